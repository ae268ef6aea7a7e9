// Writing a checkpoint: the layout is read by checkpoint.ts (and documented in
// docs/format.md); this half gathers the merged state and seals it.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { cidKey } from "../blocks/cid.js";
import { sealBytes } from "../blocks/commit.js";
import type { CommitSigner } from "../blocks/commit.js";
import type { Compression } from "../blocks/node-compression.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { LedgerState } from "../crdt/ledger-state.js";
import type { Version } from "../crdt/merge.js";
import { CorruptError } from "../util/errors.js";
import { equalBytes } from "../util/bytes.js";
import { VarintWriter } from "../util/varint.js";
import type { CheckpointSource, Layout } from "./checkpoint.js";

/** An index as a checkpoint stores it: its state and the encoded nodes of its trees. */
export interface IndexSnapshot {
  /** `field:<path>` or `map:<sha-256 of the map function's source, base64url>`. */
  name: string;
  clock: string[];
  rows: CID | undefined;
  byId: CID | undefined;
  nodes: { cid: CID; bytes: Uint8Array }[];
}
import {
  BlockTable,
  CHECKPOINT_VERSION,
  CID_BYTES,
  COMMIT_CID_PREFIX,
  Checkpoint,
  DIGEST_BYTES,
  PACK_BYTES,
} from "./checkpoint.js";

export async function encodeCheckpoint(
  state: LedgerState,
  source: CheckpointSource,
  crypto: CryptoProvider,
  key: Uint8Array,
  compression: Compression,
  indexes: readonly IndexSnapshot[] = [],
  /** Signs the seal (snapshots published to remotes are signed by their writer). */
  signer?: CommitSigner,
): Promise<{ bytes: Uint8Array; checkpoint: Checkpoint }> {
  // Tree nodes, and the docs of each leaf in entry order. Consecutive leaves share a pack of
  // about PACK_BYTES, so packs compress well whatever the fanout: [[leaf digest, [doc…]], …].
  const wanted: [string, Version][] = [];
  // In id order, the order of the previous checkpoint's packs: each pack is inflated once.
  for (const id of [...state.versions.keys()].sort()) {
    const merged = state.merged.get(id);
    if (merged) wanted.push([id, merged]);
    for (const v of state.versions.get(id)!) if (v.doc) wanted.push([id, v]);
  }
  const docBytes = await source.getDocsBytes(wanted);
  const nodes: { cid: CID; bytes: Uint8Array }[] = [];
  const packs: { cid: CID; bytes: Uint8Array }[] = [];
  const leafIds: string[] = [];
  let pack: [Uint8Array, Uint8Array[]][] = [];
  let packLeaves: CID[] = [];
  let packSize = 0;
  const closePack = () => {
    if (pack.length === 0) return;
    const bytes = compression.deflate(dagCbor.encode(pack));
    for (const leaf of packLeaves) packs.push({ cid: leaf, bytes });
    pack = [];
    packLeaves = [];
    packSize = 0;
  };
  const root = await state.treeRoot();
  if (root) {
    const stack = [root];
    while (stack.length > 0) {
      const cid = stack.pop()!;
      const node = await source.getNode(cid);
      nodes.push({ cid, bytes: await source.getNodeBytes(cid) });
      if (node.level > 0)
        for (let i = node.values.length - 1; i >= 0; i--)
          stack.push(node.values[i] as CID);
      else {
        const docs: Uint8Array[] = [];
        for (const id of node.keys)
          docs.push(docBytes.get(state.current(id)!)!);
        pack.push([cid.multihash.digest, docs]);
        leafIds.push(...node.keys);
        packLeaves.push(cid);
        for (const d of docs) packSize += d.length;
        if (packSize >= PACK_BYTES) closePack();
      }
    }
  }
  closePack();
  // The clock, oldest first, as columns of varints. Ids are numbered in tree order, then
  // the ids with no live doc (the only ones `ids` lists).
  const events = state.clock.all();
  const eventIndex = new Map(events.map((e, i) => [e.cid, i]));
  const treeIds = new Set(leafIds);
  const extraIds = [...state.versions.keys()]
    .filter((id) => !treeIds.has(id))
    .sort();
  const ids = [...leafIds, ...extraIds];
  const idIndex = new Map(ids.map((id, i) => [id, i]));
  const eventCids = new Uint8Array(events.length * DIGEST_BYTES);
  const parents = new VarintWriter();
  const heights = new VarintWriter();
  const eventIds = new VarintWriter();
  // Per event, per id: 0 for a whole doc or a deletion, else 1 + the count of changed
  // fields followed by their indexes in `names`.
  const eventFields = new VarintWriter();
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  let lastHeight = 0;
  events.forEach((e, i) => {
    const bytes = CID.parse(e.cid).bytes;
    if (
      bytes.length !== CID_BYTES ||
      !equalBytes(
        bytes.subarray(0, COMMIT_CID_PREFIX.length),
        COMMIT_CID_PREFIX,
      )
    )
      throw new CorruptError(
        "checkpoint",
        `commit cid ${e.cid} is not a sha2-256 dag-cbor cid`,
      );
    eventCids.set(bytes.subarray(COMMIT_CID_PREFIX.length), i * DIGEST_BYTES);
    parents.write(e.parents.length);
    for (const p of e.parents) parents.write(i - eventIndex.get(p)!);
    heights.write(e.height - lastHeight);
    lastHeight = e.height;
    eventIds.write(e.ids.length);
    for (const id of e.ids) eventIds.write(idIndex.get(id)!);
    e.ids.forEach((_, k) => {
      const fields = e.fields?.[k];
      if (!fields) return eventFields.write(0);
      eventFields.write(1 + fields.length);
      for (const f of fields) {
        let n = nameIndex.get(f);
        if (n === undefined) {
          n = names.length;
          names.push(f);
          nameIndex.set(f, n);
        }
        eventFields.write(n);
      }
    });
  });
  // Versions: kind 0 = the tree's doc, 1 = a deletion, 2 = a doc cid given in `cids`.
  // Ids whose current doc is fields-merged: in `merged`, with the positions of the losers.
  const versions = new VarintWriter();
  const merged = new VarintWriter();
  merged.write(state.merged.size);
  const explicit: Uint8Array[] = [];
  const extra = new Map<string, { cid: CID; bytes: Uint8Array }>();
  for (const id of ids) {
    const list = state.versions.get(id)!;
    const current = state.merged.get(id);
    if (current) {
      merged.write(idIndex.get(id)!);
      merged.write(current.losers?.length ?? 0);
      for (const l of current.losers ?? []) merged.write(list.indexOf(l));
    }
    versions.write(list.length);
    list.forEach((v, i) => {
      versions.write(eventIndex.get(v.event)!);
      if (v.doc === null) versions.write(1);
      else if (i === 0 && !current) versions.write(0);
      else {
        versions.write(2);
        explicit.push(v.doc.bytes);
      }
    });
    for (const v of current ? list : list.slice(1))
      if (v.doc && !extra.has(cidKey(v.doc)))
        extra.set(cidKey(v.doc), {
          cid: v.doc,
          bytes: docBytes.get(v)!,
        });
  }
  const cids = new Uint8Array(explicit.length * CID_BYTES);
  explicit.forEach((b, i) => cids.set(b, i * CID_BYTES));
  const stateBytes = dagCbor.encode({
    events: eventCids,
    parents: parents.finish(),
    heights: heights.finish(),
    eventIds: eventIds.finish(),
    eventFields: eventFields.finish(),
    names,
    ids: extraIds,
    versions: versions.finish(),
    merged: merged.finish(),
    cids,
  });
  const nodeTable = BlockTable.build([
    ...nodes,
    ...indexes.flatMap((i) => i.nodes),
  ]);
  const packTable = BlockTable.build(packs);
  const extraTable = BlockTable.build([...extra.values()]);
  const heads = state.clock.heads.map((h) => CID.parse(h));
  const layout: Layout = {
    v: CHECKPOINT_VERSION,
    root: root ?? null,
    heads: state.clock.heads.map((h, i) => [
      heads[i]!,
      state.clock.get(h)!.height,
    ]),
    nodes: nodeTable.region,
    nodeIndex: nodeTable.index,
    packs: packTable.region,
    packIndex: packTable.index,
    extra: extraTable.region,
    extraIndex: extraTable.index,
    state: compression.deflate(stateBytes),
    indexes: indexes.map((i) => [
      i.name,
      i.clock.map((c) => CID.parse(c)),
      i.rows ?? null,
      i.byId ?? null,
    ]),
  };
  const sealed = await sealBytes(
    crypto,
    key,
    heads,
    dagCbor.encode(layout),
    signer,
  );
  const out = new Uint8Array(1 + sealed.cid.bytes.length + sealed.bytes.length);
  out[0] = sealed.cid.bytes.length;
  out.set(sealed.cid.bytes, 1);
  out.set(sealed.bytes, 1 + sealed.cid.bytes.length);
  return {
    bytes: out,
    checkpoint: new Checkpoint(layout, compression, crypto),
  };
}
