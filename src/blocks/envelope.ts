// The public half of a commit: what a gateway or a SyncServer can read without the key.
// A commit envelope is a dag-cbor map { v, parents, iv, data }; its CID (sha2-256 over the
// envelope bytes) names the commit. `data` is AES-256-GCM ciphertext; `parents` are the
// commit CIDs this commit follows and are bound to the ciphertext as associated data.
import { CID } from "multiformats/cid";
import * as dagCbor from "@ipld/dag-cbor";
import { CorruptError } from "../util/errors.js";
import { CborWriter } from "./cbor-writer.js";

export const ENVELOPE_VERSION = 1;

export interface Envelope {
  v: number;
  parents: CID[];
  iv: Uint8Array;
  data: Uint8Array;
}

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  // dag-cbor map key order: v, iv, data, parents (shorter keys first).
  const w = new CborWriter(
    envelope.data.length + 40 + 44 * envelope.parents.length,
  );
  w.map(4)
    .text("v")
    .uint(envelope.v)
    .text("iv")
    .bytes(envelope.iv)
    .text("data")
    .bytes(envelope.data)
    .text("parents")
    .array(envelope.parents.length);
  for (const p of envelope.parents) w.cid(p);
  return w.finish();
}

/** Parses and shape-checks an envelope; throws CorruptError for anything else. */
export function decodeEnvelope(bytes: Uint8Array, subject: string): Envelope {
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (error) {
    throw new CorruptError(subject, "commit envelope is not valid dag-cbor", {
      cause: error,
    });
  }
  if (typeof value !== "object" || value === null)
    throw new CorruptError(subject, "commit envelope is not a map");
  const e = value as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION)
    throw new CorruptError(
      subject,
      `unsupported commit envelope version ${String(e.v)}`,
    );
  if (
    !Array.isArray(e.parents) ||
    !e.parents.every((p) => CID.asCID(p) !== null)
  )
    throw new CorruptError(
      subject,
      "commit envelope parents are not a list of cids",
    );
  if (!(e.iv instanceof Uint8Array) || e.iv.length !== 12)
    throw new CorruptError(subject, "commit envelope iv is not 12 bytes");
  if (!(e.data instanceof Uint8Array))
    throw new CorruptError(subject, "commit envelope data is not bytes");
  return { v: e.v, parents: e.parents as CID[], iv: e.iv, data: e.data };
}

/** The associated data bound into the ciphertext: the dag-cbor of { v, parents }. */
export function envelopeAad(parents: readonly CID[]): Uint8Array {
  const w = new CborWriter(16 + 44 * parents.length);
  w.map(2)
    .text("v")
    .uint(ENVELOPE_VERSION)
    .text("parents")
    .array(parents.length);
  for (const p of parents) w.cid(p);
  return w.finish();
}
