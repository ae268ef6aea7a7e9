// What a server (or any blind store) checks of a commit without the key: that its bytes hash
// to its CID, and that it is a well-formed envelope, whose parents it then reports.
import type { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { decodeCommitEnvelope, decodeEnvelope } from "../../blocks/envelope.js";
import { equalBytes } from "../../util/bytes.js";
import { ProtocolError } from "./error.js";

const DAG_CBOR = 0x71;

/** SHA-256 of some bytes, synchronously (node:crypto, or @noble/hashes in a browser). */
export type Sha256 = (bytes: Uint8Array) => Uint8Array;

/**
 * multiformats' sha2-256, synchronous only under Node: browsers and edge runtimes must pass
 * their own synchronous SHA-256 to checkCommit.
 */
export function nodeSha256(bytes: Uint8Array): Uint8Array {
  const digest = sha256.digest(bytes);
  if (digest instanceof Promise)
    throw new Error(
      "checkCommit: pass a synchronous sha256 (this runtime's multiformats hash is async)",
    );
  return digest.digest;
}

/** Throws ProtocolError cid-mismatch or bad-commit; returns the commit's parents. */
export function checkCommit(
  cid: CID,
  bytes: Uint8Array,
  hash: Sha256 = nodeSha256,
): CID[] {
  if (
    cid.code !== DAG_CBOR ||
    cid.multihash.code !== sha256.code ||
    cid.multihash.size !== 32
  )
    throw new ProtocolError(
      "cid-mismatch",
      `${cid.toString()} is not a dag-cbor sha2-256 CID`,
    );
  if (!equalBytes(hash(bytes), cid.multihash.digest))
    throw new ProtocolError(
      "cid-mismatch",
      `bytes do not hash to ${cid.toString()}`,
    );
  try {
    return decodeCommitEnvelope(bytes, cid.toString()).parents;
  } catch (cause) {
    throw new ProtocolError(
      "bad-commit",
      `${cid.toString()} is not a commit envelope`,
      { cause },
    );
  }
}

/**
 * True when a commit envelope (checked before) carries a membership record in the clear
 * (`m`): the server never lets go of such a commit (docs/protocol.md, "Retention").
 */
export function carriesMembership(bytes: Uint8Array): boolean {
  return (decodeEnvelope(bytes, "commit") as { m?: unknown }).m !== undefined;
}
