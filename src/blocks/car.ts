// CARv1 packing for the blocks of one commit: varint(header length), dag-cbor header
// { version: 1, roots }, then per block varint(cid length + block length), cid, bytes.
// Written here rather than through @ipld/car's async reader because commits are small and
// decoded on every read: one pass, no copies, blocks returned as views into the input.
import { CID } from "multiformats/cid";
import { varint } from "multiformats";
import * as dagCbor from "@ipld/dag-cbor";
import { CorruptError } from "../util/errors.js";
import { allocBytes } from "../util/bytes.js";
import { CborWriter } from "./cbor-writer.js";

export interface Block {
  cid: CID;
  bytes: Uint8Array;
}

export interface CarContent {
  roots: CID[];
  blocks: Block[];
}

export function encodeCar(
  roots: readonly CID[],
  blocks: readonly Block[],
): Uint8Array {
  const w = new CborWriter(24 + 44 * roots.length);
  w.map(2).text("roots").array(roots.length);
  for (const r of roots) w.cid(r);
  const header = w.text("version").uint(1).finish();
  let size = varint.encodingLength(header.length) + header.length;
  for (const b of blocks) {
    const n = b.cid.bytes.length + b.bytes.length;
    size += varint.encodingLength(n) + n;
  }
  const out = allocBytes(size);
  let at = 0;
  varint.encodeTo(header.length, out, at);
  at += varint.encodingLength(header.length);
  out.set(header, at);
  at += header.length;
  for (const b of blocks) {
    const n = b.cid.bytes.length + b.bytes.length;
    varint.encodeTo(n, out, at);
    at += varint.encodingLength(n);
    out.set(b.cid.bytes, at);
    at += b.cid.bytes.length;
    out.set(b.bytes, at);
    at += b.bytes.length;
  }
  return out;
}

export function decodeCar(bytes: Uint8Array, subject: string): CarContent {
  try {
    let at = 0;
    const [headerLength, hl] = varint.decode(bytes, at);
    at += hl;
    if (at + headerLength > bytes.length)
      throw new Error("header runs past the end");
    const header = dagCbor.decode<{ version?: unknown; roots?: unknown }>(
      bytes.subarray(at, at + headerLength),
    );
    at += headerLength;
    if (header.version !== 1 || !Array.isArray(header.roots))
      throw new Error("not a carv1 header");
    const roots = header.roots.map((r) => {
      const cid = CID.asCID(r);
      if (!cid) throw new Error("root is not a cid");
      return cid;
    });
    const blocks: Block[] = [];
    while (at < bytes.length) {
      const [length, ll] = varint.decode(bytes, at);
      at += ll;
      const end = at + length;
      if (end > bytes.length) throw new Error("block runs past the end");
      const [cid, rest] = CID.decodeFirst(bytes.subarray(at, end));
      blocks.push({ cid, bytes: rest });
      at = end;
    }
    return { roots, blocks };
  } catch (error) {
    if (error instanceof CorruptError) throw error;
    throw new CorruptError(
      subject,
      `malformed car: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
