// CIDv1 over sha2-256. Blocks are dag-cbor; commit envelopes are dag-cbor too, so an
// IPFS-style tool can walk the commit DAG without the key.
import { CID } from "multiformats/cid";
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
