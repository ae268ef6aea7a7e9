// CIDv1 over sha2-256. Blocks are dag-cbor; commit envelopes are dag-cbor too, so an
// IPFS-style tool can walk the commit DAG without the key.
import { CID } from "multiformats/cid";
import { Digest } from "multiformats/hashes/digest";
import { IntegrityError } from "../util/errors.js";
import { equalBytes } from "../util/bytes.js";
import type { CryptoProvider } from "./crypto.js";

export { CID };

export const DAG_CBOR = 0x71;
export const SHA2_256 = 0x12;

/** CIDv1(dag-cbor, sha2-256(bytes)), built over one 36-byte array (the digest is a view into it). */
export function cidFor(crypto: CryptoProvider, bytes: Uint8Array): CID {
  const out = new Uint8Array(36);
  out[0] = 1;
  out[1] = DAG_CBOR;
  out[2] = SHA2_256;
  out[3] = 32;
  out.set(crypto.sha256(bytes), 4);
  const multihash = out.subarray(2);
  return new CID(
    1,
    DAG_CBOR,
    new Digest(SHA2_256, 32, out.subarray(4), multihash),
    out,
  );
}

/** Throws IntegrityError unless `bytes` hash to `cid` (sha2-256 only). */
export function verifyCid(
  crypto: CryptoProvider,
  cid: CID,
  bytes: Uint8Array,
): void {
  if (cid.multihash.code !== SHA2_256)
    throw new IntegrityError(cid.toString(), "unsupported hash function");
  if (!equalBytes(crypto.sha256(bytes), cid.multihash.digest))
    throw new IntegrityError(cid.toString());
}

/** Parses a CID string at a boundary; undefined when it is not a valid CID. */
export function parseCid(text: string): CID | undefined {
  try {
    return CID.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A Map key for a CID: its bytes as a one-byte-per-char string. CID.toString() caches its
 * result in a WeakMap per CID object, which makes every fresh CID costly for the garbage
 * collector on hot paths; this allocates one short string and nothing else.
 */
export function cidKey(cid: CID): string {
  return String.fromCharCode.apply(null, cid.bytes as unknown as number[]);
}

/**
 * The CID's usual multibase base32 string ("bafy…") of CID bytes, built flat: CID.toString()
 * caches a Map per CID object, and a string built by `+=` is kept as a chain of one-character
 * pieces (~2 KB per CID) when it is stored, as the clock stores every commit's.
 */
export function cidString(cid: CID | Uint8Array): string {
  const bytes = cid instanceof Uint8Array ? cid : cid.bytes;
  const codes = new Array<number>(1 + Math.ceil((bytes.length * 8) / 5));
  codes[0] = 0x62; // "b": the multibase prefix of lowercase rfc4648 base32
  let bits = 0;
  let acc = 0;
  let at = 1;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      codes[at++] = BASE32.charCodeAt((acc >>> bits) & 31);
    }
    acc &= 0xff;
  }
  if (bits > 0) codes[at++] = BASE32.charCodeAt((acc << (5 - bits)) & 31);
  codes.length = at;
  return String.fromCharCode.apply(null, codes);
}

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** Bytes named by their CID. */
export interface Block {
  cid: CID;
  bytes: Uint8Array;
}
