// What the embedded backend keeps in memory per commit, and the key and hash helpers its log
// and its loader share.
import { sha256 } from "multiformats/hashes/sha2";
import { CID } from "../../blocks/cid.js";
import { equalBytes } from "../../util/bytes.js";

// Kept small and free of CID objects: a large ledger has one per commit in memory.
export interface LogEntry {
  /** File offset of the commit's bytes. */
  readonly offset: number;
  readonly length: number;
  readonly height: number;
  /** cidKey() of each parent. */
  readonly parents: readonly string[];
}

/** True when `bytes` hash to `cid` (sha2-256 only: the only hash commits are named by). */
export function hashesTo(cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== sha256.code) return false;
  const digest = sha256.digest(bytes);
  if (digest instanceof Promise) throw new Error("sha256 must be synchronous");
  return equalBytes(digest.digest, cid.multihash.digest);
}

/** The same string blocks/cid's cidKey() makes of a CID, from its bytes. */
export function keyOfBytes(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

export function cidOfKey(key: string): CID {
  const bytes = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) bytes[i] = key.charCodeAt(i);
  return CID.decode(bytes);
}
