// The plaintext of a commit (format v2): one event — its height and its operations — with
// the doc values it wrote, as one dag-cbor map { h, ops }. Parents live in the commit
// envelope (in the clear, bound to the ciphertext as associated data), so they are not
// repeated here. An op is
//   [id, doc]          a put of the whole doc (it had no live version before), or
//                      a deletion when doc is null;
//   [id, doc, fields]  a put that changed `fields` (top-level names, sorted: set or removed)
//                      of the version it replaced; `doc` is still the whole new doc.
// `doc` is a byte string holding the doc's dag-cbor encoding, so a reader names it (its CID)
// by hashing those bytes and decodes it only when it is read. Nothing here claims state (no
// tree root): every replica derives the doc tree itself.
import { CorruptError } from "../util/errors.js";
import { CborWriter } from "../blocks/cbor-writer.js";

/** One op as sealed: the doc bytes, or null for a deletion; `fields` absent = whole doc. */
export type SealedOp = readonly [
  id: string,
  doc: Uint8Array | null,
  fields?: readonly string[],
];

export interface EventBody {
  h: number;
  ops: readonly SealedOp[];
}

export function encodeEvent(body: EventBody): Uint8Array {
  let size = 16;
  for (const [id, doc, fields] of body.ops) {
    size += id.length * 3 + (doc?.length ?? 0) + 16;
    if (fields) for (const f of fields) size += f.length * 3 + 5;
  }
  // dag-cbor map key order: h, ops.
  const w = new CborWriter(size);
  w.map(2).text("h").uint(body.h).text("ops").array(body.ops.length);
  for (const [id, doc, fields] of body.ops) {
    w.array(fields ? 3 : 2).text(id);
    if (doc) w.bytes(doc);
    else w.null();
    if (fields) {
      w.array(fields.length);
      for (const f of fields) w.text(f);
    }
  }
  return w.finish();
}

export function fromEventValue(value: unknown, subject: string): EventBody {
  const bad = (detail: string) => new CorruptError(subject, `event ${detail}`);
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw bad("is not a map");
  const v = value as Record<string, unknown>;
  if (Object.keys(v).length !== 2) throw bad("has keys other than h and ops");
  if (typeof v.h !== "number" || !Number.isInteger(v.h) || v.h < 1)
    throw bad("height is not a positive integer");
  if (!Array.isArray(v.ops)) throw bad("ops is not a list");
  const ops: SealedOp[] = [];
  const ids = new Set<string>();
  for (const op of v.ops as unknown[]) {
    if (
      !Array.isArray(op) ||
      (op.length !== 2 && op.length !== 3) ||
      typeof op[0] !== "string"
    )
      throw bad("op is not [id, doc] or [id, doc, fields]");
    const [id, doc, fields] = op as [string, unknown, unknown];
    if (ids.has(id)) throw bad(`writes ${JSON.stringify(id)} twice`);
    ids.add(id);
    if (doc !== null && !(doc instanceof Uint8Array))
      throw bad("op doc is not bytes or null");
    if (op.length === 2) {
      ops.push([id, doc]);
      continue;
    }
    if (doc === null) throw bad("a deletion lists fields");
    if (!Array.isArray(fields) || !fields.every((f) => typeof f === "string"))
      throw bad("op fields are not a list of names");
    for (let i = 1; i < fields.length; i++)
      if (!((fields[i - 1] as string) < (fields[i] as string)))
        throw bad("op fields are not sorted and distinct");
    ops.push([id, doc, fields]);
  }
  return { ops, h: v.h };
}
