// Which address a request comes from: the TCP peer, unless that peer is a reverse proxy the
// operator trusts, whose `X-Forwarded-For` then names the client. Per-address connection caps
// and logs use it; without `trustProxy`, a forwarded header is ignored (anyone can send one).
import { isIP } from "node:net";

/** The proxies trusted to name the client: exact addresses, or "loopback" for 127.0.0.0/8 and ::1. */
export type TrustProxy = readonly string[];

export function isTrustedProxy(
  address: string | undefined,
  trust: TrustProxy,
): boolean {
  if (address === undefined || trust.length === 0) return false;
  const plain = address.startsWith("::ffff:") ? address.slice(7) : address;
  if (trust.includes("loopback") && isLoopbackAddress(plain)) return true;
  return trust.includes(plain) || trust.includes(address);
}

export function isLoopbackAddress(address: string): boolean {
  return (
    address === "::1" || (isIP(address) === 4 && address.startsWith("127."))
  );
}

/**
 * The client's address: the TCP peer's, or, when the peer is a trusted proxy, the right-most
 * address of X-Forwarded-For that is not itself a trusted proxy (what the proxies appended,
 * not what the client claimed).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trust: TrustProxy,
): string | undefined {
  if (!isTrustedProxy(peer, trust) || !forwardedFor) return peer;
  const hops = forwardedFor
    .split(",")
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
  for (let i = hops.length - 1; i >= 0; i--)
    if (!isTrustedProxy(hops[i], trust)) return hops[i];
  return hops[0] ?? peer;
}
