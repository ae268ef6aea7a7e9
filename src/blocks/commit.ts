// The private half of a commit: sealing a CAR of blocks into an envelope and opening it.
// Only clients import this file; the server holds envelope.ts alone.
//
// IV = first 12 bytes of HMAC-SHA256(key, aad || plaintext): deterministic, so the same
// plaintext under the same parents always seals to the same bytes and CID (idempotent
// re-writes, golden fixtures), and an IV can only repeat with the very same plaintext.
import type { CID } from "multiformats/cid";
import { DecryptError } from "../util/errors.js";
import type { Block, CarContent } from "./car.js";
import { decodeCar, encodeCar } from "./car.js";
import { cidFor, verifyCid } from "./cid.js";
import type { CryptoProvider } from "./crypto.js";
import {
  ENVELOPE_VERSION,
  decodeEnvelope,
  encodeEnvelope,
  envelopeAad,
} from "./envelope.js";

export interface SealedCommit {
  cid: CID;
  bytes: Uint8Array;
}

export interface OpenedCommit extends CarContent {
  cid: CID;
  parents: CID[];
  /** Size of the sealed bytes. */
  size: number;
}

export async function sealCommit(
  crypto: CryptoProvider,
  key: Uint8Array,
  parents: readonly CID[],
  roots: readonly CID[],
  blocks: readonly Block[],
): Promise<SealedCommit> {
  return sealBytes(crypto, key, parents, encodeCar(roots, blocks));
}

/** Seals any plaintext in a commit envelope (commits hold a CAR; checkpoints their own layout). */
export async function sealBytes(
  crypto: CryptoProvider,
  key: Uint8Array,
  parents: readonly CID[],
  plaintext: Uint8Array,
): Promise<SealedCommit> {
  const sortedParents = [...parents].sort(compareCids);
  const aad = envelopeAad(sortedParents);
  const iv = crypto.hmacSha256(key, [aad, plaintext]).subarray(0, 12);
  const data = await crypto.encrypt(key, iv, plaintext, aad);
  const bytes = encodeEnvelope({
    v: ENVELOPE_VERSION,
    parents: sortedParents,
    iv,
    data,
  });
  return { cid: cidFor(crypto, bytes), bytes };
}

/**
 * Verifies `bytes` against `cid` (IntegrityError), parses the envelope (CorruptError),
 * decrypts (DecryptError: wrong key or tampering), parses the CAR and verifies every block
 * against its CID.
 */
export async function openCommit(
  crypto: CryptoProvider,
  key: Uint8Array,
  cid: CID,
  bytes: Uint8Array,
): Promise<OpenedCommit> {
  const { parents, plaintext } = await openBytes(crypto, key, cid, bytes);
  const car = decodeCar(plaintext, `commit ${cid.toString()}`);
  for (const block of car.blocks) verifyCid(crypto, block.cid, block.bytes);
  return {
    cid,
    parents,
    roots: car.roots,
    blocks: car.blocks,
    size: bytes.length,
  };
}

/** Verifies, parses and decrypts an envelope, returning its parents and plaintext. */
export async function openBytes(
  crypto: CryptoProvider,
  key: Uint8Array,
  cid: CID,
  bytes: Uint8Array,
): Promise<{ parents: CID[]; plaintext: Uint8Array }> {
  verifyCid(crypto, cid, bytes);
  const envelope = decodeEnvelope(bytes, `commit ${cid.toString()}`);
  try {
    const plaintext = await crypto.decrypt(
      key,
      envelope.iv,
      envelope.data,
      envelopeAad(envelope.parents),
    );
    return { parents: envelope.parents, plaintext };
  } catch (error) {
    throw new DecryptError(cid.toString(), { cause: error });
  }
}

export function compareCids(a: CID, b: CID): number {
  const x = a.bytes;
  const y = b.bytes;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = x[i]! - y[i]!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}
