// The event block a commit carries: its operations, the doc-tree root after applying them
// on top of the merged parents, and its height. Parents live in the commit envelope (in the
// clear, bound to the ciphertext as associated data), so they are not repeated here.
import { CID } from "multiformats/cid";
import { CorruptError } from "../util/errors.js";
import { CborWriter } from "../blocks/cbor-writer.js";

export interface EventBody {
  ops: (readonly [string, CID | null])[];
  root: CID | null;
  h: number;
}

export function encodeEvent(body: EventBody): Uint8Array {
  // dag-cbor map key order: h, ops, root.
  const w = new CborWriter(64 + 80 * body.ops.length);
  w.map(3).text("h").uint(body.h).text("ops").array(body.ops.length);
  for (const [id, doc] of body.ops) {
    w.array(2).text(id);
    if (doc) w.cid(doc);
    else w.null();
  }
  w.text("root");
  if (body.root) w.cid(body.root);
  else w.null();
  return w.finish();
}

export function fromEventValue(value: unknown, subject: string): EventBody {
  const bad = (detail: string) => new CorruptError(subject, `event ${detail}`);
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw bad("is not a map");
  const v = value as Record<string, unknown>;
  if (typeof v.h !== "number" || !Number.isInteger(v.h) || v.h < 1)
    throw bad("height is not a positive integer");
  if (v.root !== null && CID.asCID(v.root) === null)
    throw bad("root is not a cid");
  if (!Array.isArray(v.ops)) throw bad("ops is not a list");
  const ops: (readonly [string, CID | null])[] = [];
  for (const op of v.ops as unknown[]) {
    if (!Array.isArray(op) || op.length !== 2 || typeof op[0] !== "string")
      throw bad("op is not [id, cid | null]");
    const doc = op[1] === null ? null : CID.asCID(op[1]);
    if (doc === undefined || (op[1] !== null && doc === null))
      throw bad("op value is not a cid or null");
    ops.push([op[0], doc]);
  }
  return { ops, root: (v.root as CID | null) ?? null, h: v.h };
}
