// A checkpoint is the whole merged state of a ledger sealed like a commit, so a reopen
// reads one blob instead of replaying every commit: the clock, the latest versions of every
// doc, the doc tree's nodes and the docs those versions name. Kept by the local storage
// only (it is a cache of what the commits say; a damaged one is skipped and the commits
// replayed). Stored as [u8 cid length][cid][sealed envelope].
import { CID } from "multiformats/cid";
import type { Block } from "../blocks/car.js";
import { cidFor, cidKey, verifyCid } from "../blocks/cid.js";
import { decodeValue, encodeValue } from "../blocks/codec.js";
import { openCommit, sealCommit } from "../blocks/commit.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { ClockEvent } from "../crdt/clock.js";
import type { LedgerState } from "../crdt/ledger-state.js";
import type { Version } from "../crdt/merge.js";
import { CorruptError } from "../util/errors.js";
import type { BlockSource } from "./block-source.js";

export const CHECKPOINT_VERSION = 1;

interface Manifest {
  v: number;
  heads: CID[];
  root: CID | null;
  /** [event cid, parent indexes, height, id indexes] */
  events: [CID, number[], number, number[]][];
  ids: string[];
  /** [id index, event index, doc cid | null], winner first per id */
  versions: [number, number, CID | null][];
}

export interface LoadedCheckpoint {
  heads: string[];
  root: CID | undefined;
  events: ClockEvent[];
  versions: Map<string, Version[]>;
  blocks: Block[];
}

export async function encodeCheckpoint(
  state: LedgerState,
  source: BlockSource,
  crypto: CryptoProvider,
  key: Uint8Array,
): Promise<{ bytes: Uint8Array; blocks: Block[] }> {
  const events = state.clock.all();
  const eventIndex = new Map(events.map((e, i) => [e.cid, i]));
  const ids = [...state.versions.keys()].sort();
  const idIndex = new Map(ids.map((id, i) => [id, i]));
  const manifest: Manifest = {
    v: CHECKPOINT_VERSION,
    heads: state.clock.heads.map((h) => CID.parse(h)),
    root: state.root ?? null,
    events: events.map((e) => [CID.parse(e.cid), e.parents.map((p) => eventIndex.get(p)!), e.height, e.ids.map((id) => idIndex.get(id)!)]),
    ids,
    versions: [],
  };
  const blocks: Block[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    for (const v of state.versions.get(id)!) {
      manifest.versions.push([idIndex.get(id)!, eventIndex.get(v.event)!, v.doc]);
      if (v.doc && !seen.has(cidKey(v.doc))) {
        seen.add(cidKey(v.doc));
        blocks.push({ cid: v.doc, bytes: await source.getDocBytes(v) });
      }
    }
  }
  if (state.root) {
    const stack = [state.root];
    while (stack.length > 0) {
      const cid = stack.pop()!;
      blocks.push({ cid, bytes: await source.getNodeBytes(cid) });
      const node = await source.getNode(cid);
      if (node.level > 0) for (const c of node.values) stack.push(c);
    }
  }
  const manifestBytes = encodeValue(manifest);
  const manifestCid = cidFor(crypto, manifestBytes);
  blocks.unshift({ cid: manifestCid, bytes: manifestBytes });
  const sealed = await sealCommit(crypto, key, manifest.heads, [manifestCid], blocks);
  const out = new Uint8Array(1 + sealed.cid.bytes.length + sealed.bytes.length);
  out[0] = sealed.cid.bytes.length;
  out.set(sealed.cid.bytes, 1);
  out.set(sealed.bytes, 1 + sealed.cid.bytes.length);
  return { bytes: out, blocks };
}

/** Throws IntegrityError/CorruptError for a damaged checkpoint, DecryptError for a wrong key. */
export async function decodeCheckpoint(bytes: Uint8Array, crypto: CryptoProvider, key: Uint8Array): Promise<LoadedCheckpoint> {
  const subject = "checkpoint";
  if (bytes.length < 2 || 1 + bytes[0]! > bytes.length) throw new CorruptError(subject, "truncated");
  let cid: CID;
  try {
    cid = CID.decode(bytes.subarray(1, 1 + bytes[0]!));
  } catch (error) {
    throw new CorruptError(subject, "bad cid", { cause: error });
  }
  const envelope = bytes.subarray(1 + bytes[0]!);
  verifyCid(crypto, cid, envelope);
  const opened = await openCommit(crypto, key, cid, envelope);
  const rootCid = opened.roots[0];
  const manifestBlock = rootCid && opened.blocks.find((b) => b.cid.equals(rootCid));
  if (!manifestBlock) throw new CorruptError(subject, "no manifest block");
  const m = decodeValue<Manifest>(manifestBlock.bytes, subject);
  if (m.v !== CHECKPOINT_VERSION || !Array.isArray(m.events) || !Array.isArray(m.ids) || !Array.isArray(m.versions) || !Array.isArray(m.heads))
    throw new CorruptError(subject, "manifest has an unknown version or shape");
  const eventCids = m.events.map((e) => e[0].toString());
  const events: ClockEvent[] = m.events.map(([c, parents, height, idIdx], i) => ({
    cid: eventCids[i]!,
    parents: parents.map((p) => eventCids[p] ?? bad(`event ${c.toString()} has a parent index out of range`)),
    height,
    ids: idIdx.map((x) => m.ids[x] ?? bad("event names an id index out of range")),
  }));
  const versions = new Map<string, Version[]>();
  for (const [idIdx, evIdx, doc] of m.versions) {
    const id = m.ids[idIdx] ?? bad("version names an id index out of range");
    const ev = events[evIdx] ?? bad("version names an event index out of range");
    let list = versions.get(id);
    if (!list) versions.set(id, (list = []));
    list.push({ event: ev.cid, height: ev.height, doc });
  }
  return { heads: m.heads.map((h) => h.toString()), root: m.root ?? undefined, events, versions, blocks: opened.blocks };
}

function bad(detail: string): never {
  throw new CorruptError("checkpoint", detail);
}
