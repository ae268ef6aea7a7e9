// CIDv1 over sha2-256. Blocks are dag-cbor; commit envelopes are dag-cbor too, so an
// IPFS-style tool can walk the commit DAG without the key.
import { CID } from "multiformats/cid";
import { base32 } from "multiformats/bases/base32";
import { create as createDigest } from "multiformats/hashes/digest";
import { IntegrityError } from "../util/errors.js";
import { equalBytes } from "../util/bytes.js";
import type { CryptoProvider } from "./crypto.js";

export { CID };

export const DAG_CBOR = 0x71;
export const SHA2_256 = 0x12;

export function cidFor(crypto: CryptoProvider, bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR, createDigest(SHA2_256, crypto.sha256(bytes)));
}

/** Throws IntegrityError unless `bytes` hash to `cid` (sha2-256 only). */
export function verifyCid(crypto: CryptoProvider, cid: CID, bytes: Uint8Array): void {
  if (cid.multihash.code !== SHA2_256) throw new IntegrityError(cid.toString(), "unsupported hash function");
  if (!equalBytes(crypto.sha256(bytes), cid.multihash.digest)) throw new IntegrityError(cid.toString());
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

/** The CID's usual base32 string ("bafy…"), without CID.toString()'s per-object cache. */
export function cidString(cid: CID): string {
  return base32.encode(cid.bytes);
}
