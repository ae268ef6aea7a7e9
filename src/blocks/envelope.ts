// The public half of a commit: what a gateway or a SyncServer can read without the key.
// A commit envelope (format v2) is a dag-cbor map
//   { v: 2, parents: [CID…] (sorted by bytes), iv: bytes(12), data: bytes,
//     w: bytes(32), s: bytes(64), m?: bytes, k?: bytes(8) }
// whose CID (sha2-256 over the envelope bytes) names the commit. `data` is AES-256-GCM
// ciphertext; `parents` are the commit CIDs this commit follows. `w` is the writer's Ed25519
// public key and `s` its signature over the CID of the envelope encoded without `s` (the
// unsigned envelope), so the signature covers every other field, `m` and `k` included.
// `m` is a membership record in the clear (src/trust/membership-record.ts), opaque here;
// `k` names the content key `data` is sealed under when it is not the ledger's first key.
// The associated data binds `v`, `parents` and `w` to the ciphertext. Every commit is
// signed (decodeCommitEnvelope); a checkpoint kept locally uses the same envelope and may
// be unsigned. docs/format.md is the contract.
import { CID } from "multiformats/cid";
import * as dagCbor from "@ipld/dag-cbor";
import {
  CorruptError,
  FormatVersionError,
  SignatureError,
} from "../util/errors.js";
import { CborWriter } from "./cbor-writer.js";

export const ENVELOPE_VERSION = 2;
export const IV_BYTES = 12;
export const WRITER_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const KEY_ID_BYTES = 8;
/** Most bytes of a membership record (`m`): one sealed key per member, up to 4096 members. */
export const MAX_RECORD_BYTES = 512 * 1024;

export interface Envelope {
  v: number;
  parents: CID[];
  iv: Uint8Array;
  data: Uint8Array;
  /** The writer's public key (Ed25519, 32 bytes), when the commit is signed. */
  w?: Uint8Array;
  /** The writer's signature over the CID of the unsigned envelope (64 bytes). */
  s?: Uint8Array;
  /** A membership record in the clear (dag-cbor bytes, read by src/trust). */
  m?: Uint8Array;
  /** The id of the content key `data` is sealed under; absent for the ledger's first key. */
  k?: Uint8Array;
}

/** A commit's envelope: always signed. */
export type CommitEnvelope = Envelope & { w: Uint8Array; s: Uint8Array };

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  // dag-cbor map key order (shorter keys first, then bytewise): k, m, s, v, w, iv, data,
  // parents.
  const { w, s, m, k } = envelope;
  const size = 4 + (w ? 1 : 0) + (s ? 1 : 0) + (m ? 1 : 0) + (k ? 1 : 0);
  const out = new CborWriter(
    envelope.data.length +
      40 +
      44 * envelope.parents.length +
      (w ? 36 : 0) +
      (m ? m.length + 8 : 0) +
      (k ? 12 : 0),
  ).map(size);
  if (k) out.text("k").bytes(k);
  if (m) out.text("m").bytes(m);
  if (s) out.text("s").bytes(s);
  out.text("v").uint(envelope.v);
  if (w) out.text("w").bytes(w);
  out
    .text("iv")
    .bytes(envelope.iv)
    .text("data")
    .bytes(envelope.data)
    .text("parents")
    .array(envelope.parents.length);
  for (const p of envelope.parents) out.cid(p);
  return out.finish();
}

/**
 * Parses and shape-checks an envelope. Throws FormatVersionError for an envelope of another
 * format version (v1 included: never misread) and CorruptError for anything malformed.
 */
export function decodeEnvelope(bytes: Uint8Array, subject: string): Envelope {
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (error) {
    throw new CorruptError(subject, "commit envelope is not valid dag-cbor", {
      cause: error,
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new CorruptError(subject, "commit envelope is not a map");
  const e = value as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION) throw new FormatVersionError(subject, e.v);
  for (const k of Object.keys(e))
    if (!ENVELOPE_KEYS.has(k))
      throw new CorruptError(
        subject,
        `commit envelope has an unknown key ${k}`,
      );
  if (
    !Array.isArray(e.parents) ||
    !e.parents.every((p) => CID.asCID(p) !== null)
  )
    throw new CorruptError(
      subject,
      "commit envelope parents are not a list of cids",
    );
  const parents = e.parents as CID[];
  if (!(e.iv instanceof Uint8Array) || e.iv.length !== IV_BYTES)
    throw new CorruptError(subject, "commit envelope iv is not 12 bytes");
  if (!(e.data instanceof Uint8Array))
    throw new CorruptError(subject, "commit envelope data is not bytes");
  if (
    e.w !== undefined &&
    !(e.w instanceof Uint8Array && e.w.length === WRITER_BYTES)
  )
    throw new CorruptError(subject, "commit envelope writer is not 32 bytes");
  if (e.s !== undefined) {
    if (!(e.s instanceof Uint8Array && e.s.length === SIGNATURE_BYTES))
      throw new CorruptError(
        subject,
        "commit envelope signature is not 64 bytes",
      );
    if (e.w === undefined)
      throw new CorruptError(
        subject,
        "commit envelope has a signature but no writer",
      );
  }
  if (
    e.m !== undefined &&
    !(e.m instanceof Uint8Array && e.m.length <= MAX_RECORD_BYTES)
  )
    throw new CorruptError(
      subject,
      `commit envelope membership record is not bytes of at most ${MAX_RECORD_BYTES}`,
    );
  if (
    e.k !== undefined &&
    !(e.k instanceof Uint8Array && e.k.length === KEY_ID_BYTES)
  )
    throw new CorruptError(subject, "commit envelope key id is not 8 bytes");
  return {
    v: e.v,
    parents,
    iv: e.iv,
    data: e.data,
    ...(e.w !== undefined ? { w: e.w } : {}),
    ...(e.s !== undefined ? { s: e.s } : {}),
    ...(e.m !== undefined ? { m: e.m } : {}),
    ...(e.k !== undefined ? { k: e.k } : {}),
  };
}

/**
 * decodeEnvelope for a commit, which must be signed: an envelope without a writer and a
 * signature is refused with SignatureError (the signature itself is checked by the caller,
 * which holds the Ed25519 code).
 */
export function decodeCommitEnvelope(
  bytes: Uint8Array,
  cid: string,
): CommitEnvelope {
  const envelope = decodeEnvelope(bytes, `commit ${cid}`);
  if (!envelope.w || !envelope.s) throw new SignatureError(cid, "unsigned");
  return envelope as CommitEnvelope;
}

const ENVELOPE_KEYS = new Set([
  "v",
  "parents",
  "iv",
  "data",
  "w",
  "s",
  "m",
  "k",
]);

/** The bytes a signature covers the CID of: the envelope without `s`. */
export function unsignedEnvelope(envelope: Envelope): Uint8Array {
  const unsigned: Envelope = { ...envelope };
  delete unsigned.s;
  return encodeEnvelope(unsigned);
}

/** The associated data bound into the ciphertext: the dag-cbor of { v, parents, w? }. */
export function envelopeAad(
  parents: readonly CID[],
  writer?: Uint8Array,
): Uint8Array {
  // dag-cbor key order: v, w, parents.
  const w = new CborWriter(24 + 44 * parents.length + (writer ? 36 : 0))
    .map(writer ? 3 : 2)
    .text("v")
    .uint(ENVELOPE_VERSION);
  if (writer) w.text("w").bytes(writer);
  w.text("parents").array(parents.length);
  for (const p of parents) w.cid(p);
  return w.finish();
}

/** Bytewise order of CIDs: the order of an envelope's parents. */
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
