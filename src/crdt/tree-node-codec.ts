// A direct dag-cbor encoder for tree nodes, the hottest encode of every write. It writes
// exactly the bytes @ipld/dag-cbor writes for [level, keys, values] when the values are
// CIDs (a test checks byte equality), in one pass into one buffer, without the generic
// encoder's per-value type dispatch and copies.
import { CID } from "multiformats/cid";
import { encodeValue } from "../blocks/codec.js";

const encoder = new TextEncoder();

function headerLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

function writeHeader(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = m | 25;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  out[at] = m | 26;
  out[at + 1] = n >>> 24;
  out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 8) & 0xff;
  out[at + 4] = n & 0xff;
  return at + 5;
}

/** dag-cbor bytes of [level, keys, values]; falls back to the generic codec for non-CID values. */
export function encodeTreeNode(level: number, keys: readonly string[], values: readonly unknown[]): Uint8Array {
  const cids: CID[] = [];
  for (const v of values) {
    const cid = v instanceof CID ? (v as CID) : null;
    if (!cid) return encodeValue([level, keys, values]);
    cids.push(cid);
  }
  // Strings are measured as UTF-8 first; ASCII keys (the common case) measure by length.
  const keyBytes: (Uint8Array | string)[] = [];
  let size = 1 + headerLength(level) + headerLength(keys.length) * 2;
  for (const k of keys) {
    let ascii = true;
    for (let i = 0; i < k.length; i++)
      if (k.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    const b = ascii ? k : encoder.encode(k);
    keyBytes.push(b);
    size += headerLength(b.length) + b.length;
  }
  for (const c of cids) {
    const n = c.bytes.length + 1;
    size += 2 + headerLength(n) + n; // tag 42 is 0xd8 0x2a
  }
  const out = new Uint8Array(size);
  let at = writeHeader(out, 0, 4, 3);
  at = writeHeader(out, at, 0, level);
  at = writeHeader(out, at, 4, keys.length);
  for (const b of keyBytes) {
    at = writeHeader(out, at, 3, b.length);
    if (typeof b === "string") {
      for (let i = 0; i < b.length; i++) out[at + i] = b.charCodeAt(i);
      at += b.length;
    } else {
      out.set(b, at);
      at += b.length;
    }
  }
  at = writeHeader(out, at, 4, cids.length);
  for (const c of cids) {
    out[at++] = 0xd8;
    out[at++] = 42;
    at = writeHeader(out, at, 2, c.bytes.length + 1);
    out[at++] = 0;
    out.set(c.bytes, at);
    at += c.bytes.length;
  }
  return out;
}
