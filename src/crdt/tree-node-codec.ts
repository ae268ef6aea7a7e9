// Tree nodes are the hottest encode of every write: written directly with CborWriter,
// byte-identical to @ipld/dag-cbor's output for [level, keys, values] (a test checks).
import { CID } from "multiformats/cid";
import { CborWriter } from "../blocks/cbor-writer.js";
import { encodeValue } from "../blocks/codec.js";

/** dag-cbor bytes of [level, keys, values]; falls back to the generic codec for non-CID values. */
export function encodeTreeNode(
  level: number,
  keys: readonly string[],
  values: readonly unknown[],
): Uint8Array {
  let size = 16;
  for (let i = 0; i < keys.length; i++) {
    if (!(values[i] instanceof CID)) return encodeValue([level, keys, values]);
    size += keys[i]!.length * 3 + 48;
  }
  const w = new CborWriter(size);
  w.array(3).uint(level).array(keys.length);
  for (const k of keys) w.text(k);
  w.array(values.length);
  for (const v of values) w.cid(v as CID);
  return w.finish();
}
