// The private half of a commit: sealing a plaintext into an envelope and opening it. Only
// clients import this file; the server holds envelope.ts alone. A commit's plaintext is one
// dag-cbor value (crdt/event.ts); a checkpoint's is its own layout (ledger/checkpoint.ts).
//
// IV = first 12 bytes of HMAC-SHA256(key, aad || plaintext): deterministic, so the same
// plaintext under the same parents always seals to the same bytes and CID (idempotent
// re-writes, golden fixtures), and an IV can only repeat with the very same plaintext.
import type { CID } from "multiformats/cid";
import { DecryptError } from "../util/errors.js";
import { cidFor, verifyCid } from "./cid.js";
import type { CryptoProvider } from "./crypto.js";
import {
  ENVELOPE_VERSION,
  IV_BYTES,
  compareCids,
  decodeEnvelope,
  encodeEnvelope,
  envelopeAad,
} from "./envelope.js";

export interface SealedCommit {
  cid: CID;
  bytes: Uint8Array;
}

export interface OpenedBytes {
  parents: CID[];
  plaintext: Uint8Array;
  /** The writer's public key, when the envelope names one. */
  writer?: Uint8Array;
}

/** Seals a plaintext in a commit envelope on `parents` (sorted here). */
export async function sealBytes(
  crypto: CryptoProvider,
  key: Uint8Array,
  parents: readonly CID[],
  plaintext: Uint8Array,
): Promise<SealedCommit> {
  const sortedParents = [...parents].sort(compareCids);
  const aad = envelopeAad(sortedParents);
  const iv = crypto.hmacSha256(key, [aad, plaintext]).subarray(0, IV_BYTES);
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
 * Verifies `bytes` against `cid` (IntegrityError), parses the envelope (FormatVersionError,
 * CorruptError) and decrypts (DecryptError: wrong key or tampering).
 */
export async function openBytes(
  crypto: CryptoProvider,
  key: Uint8Array,
  cid: CID,
  bytes: Uint8Array,
): Promise<OpenedBytes> {
  verifyCid(crypto, cid, bytes);
  const envelope = decodeEnvelope(bytes, `commit ${cid.toString()}`);
  try {
    const plaintext = await crypto.decrypt(
      key,
      envelope.iv,
      envelope.data,
      envelopeAad(envelope.parents, envelope.w),
    );
    return {
      parents: envelope.parents,
      plaintext,
      ...(envelope.w ? { writer: envelope.w } : {}),
    };
  } catch (error) {
    throw new DecryptError(cid.toString(), { cause: error });
  }
}
