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
  decodeCommitEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  envelopeAad,
  unsignedEnvelope,
} from "./envelope.js";
import type { Envelope } from "./envelope.js";

export interface SealedCommit {
  cid: CID;
  bytes: Uint8Array;
}

export interface OpenedBytes {
  parents: CID[];
  plaintext: Uint8Array;
  /** The writer's public key, when the envelope names one. */
  writer?: Uint8Array;
  /** The writer's signature, and the message it signs (the unsigned envelope's CID bytes). */
  signature?: { readonly s: Uint8Array; readonly message: Uint8Array };
  /** The membership record the envelope carries in the clear (`m`), undecoded. */
  record?: Uint8Array;
}

/** Clear-text fields a sealed envelope may carry besides the ciphertext (docs/format.md). */
export interface SealExtras {
  /** A membership record (dag-cbor bytes), `m`. */
  record?: Uint8Array | undefined;
  /** The id of `key` when it is not the ledger's first key, `k`. */
  keyId?: Uint8Array | undefined;
}

/**
 * What sealing needs of a writer (src/trust's Signer): its Ed25519 public key goes into the
 * envelope (`w`, bound as associated data), its signature over the CID of the envelope
 * without `s` into `s`. Signing the final CID would be circular: it covers `s`.
 */
export interface CommitSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Seals a plaintext in a commit envelope on `parents` (sorted here), signed by `signer` if given. */
export async function sealBytes(
  crypto: CryptoProvider,
  key: Uint8Array,
  parents: readonly CID[],
  plaintext: Uint8Array,
  /** Absent only for a local checkpoint (every commit is signed). */
  signer: CommitSigner | undefined,
  extras: SealExtras = {},
): Promise<SealedCommit> {
  const sortedParents = [...parents].sort(compareCids);
  const w = signer?.publicKey;
  const aad = envelopeAad(sortedParents, w);
  const iv = crypto.hmacSha256(key, [aad, plaintext]).subarray(0, IV_BYTES);
  const data = await crypto.encrypt(key, iv, plaintext, aad);
  const envelope: Envelope = {
    v: ENVELOPE_VERSION,
    parents: sortedParents,
    iv,
    data,
    ...(w ? { w } : {}),
    ...(extras.record ? { m: extras.record } : {}),
    ...(extras.keyId ? { k: extras.keyId } : {}),
  };
  const unsigned = encodeEnvelope(envelope);
  if (!signer) return { cid: cidFor(crypto, unsigned), bytes: unsigned };
  const s = await signer.sign(cidFor(crypto, unsigned).bytes);
  const bytes = encodeEnvelope({ ...envelope, s });
  return { cid: cidFor(crypto, bytes), bytes };
}

/**
 * Verifies `bytes` against `cid` (IntegrityError), parses the envelope (FormatVersionError,
 * CorruptError; SignatureError for an unsigned commit) and decrypts under the key `keyFor`
 * gives for its key id (DecryptError: wrong key or tampering).
 */
export async function openBytes(
  crypto: CryptoProvider,
  keyFor: Uint8Array | ((keyId: Uint8Array | undefined) => Uint8Array),
  cid: CID,
  bytes: Uint8Array,
  kind: "commit" | "checkpoint" = "commit",
): Promise<OpenedBytes> {
  verifyCid(crypto, cid, bytes);
  const envelope =
    kind === "commit"
      ? decodeCommitEnvelope(bytes, cid.toString())
      : decodeEnvelope(bytes, `checkpoint ${cid.toString()}`);
  const key = typeof keyFor === "function" ? keyFor(envelope.k) : keyFor;
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
      ...(envelope.s
        ? {
            signature: {
              s: envelope.s,
              message: cidFor(crypto, unsignedEnvelope(envelope)).bytes,
            },
          }
        : {}),
      ...(envelope.m ? { record: envelope.m } : {}),
    };
  } catch (error) {
    throw new DecryptError(cid.toString(), { cause: error });
  }
}
