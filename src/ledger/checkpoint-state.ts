// The clock and version lists of a checkpoint (its `state` column), decoded only when a
// write, a merge or a changes feed first needs them; the rest of a checkpoint is read
// lazily by checkpoint.ts. Layout: docs/format.md.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import type { Compression } from "../blocks/node-compression.js";
import type { ClockEvent } from "../crdt/clock.js";
import type { Version } from "../crdt/merge.js";
import { CorruptError } from "../util/errors.js";
import { VarintReader } from "../util/varint.js";

export const CID_BYTES = 36; // CIDv1 dag-cbor sha2-256
export const DIGEST_BYTES = 32;
/** Every commit CID is CIDv1, dag-cbor, sha2-256 (32 bytes): the state keeps only digests. */
export const COMMIT_CID_PREFIX = Uint8Array.of(0x01, 0x71, 0x12, 0x20);

export function fail(detail: string): never {
  throw new CorruptError("checkpoint", detail);
}

export function decodeLayoutValue<T>(bytes: Uint8Array, subject: string): T {
  try {
    return dagCbor.decode(bytes);
  } catch (error) {
    throw new CorruptError("checkpoint", `${subject} is not valid dag-cbor`, {
      cause: error,
    });
  }
}

/** The CIDs of the commits a checkpoint's clock holds, without decoding the rest of it. */
export function decodeStateCommits(
  state: Uint8Array,
  compression: Compression,
): string[] {
  const s = decodeLayoutValue<{ events: Uint8Array }>(
    compression.inflate(state),
    "checkpoint state",
  );
  if (!(s?.events instanceof Uint8Array) || s.events.length % DIGEST_BYTES)
    fail("state has no commit column");
  return commitCids(s.events);
}

function commitCids(digests: Uint8Array): string[] {
  const n = digests.length / DIGEST_BYTES;
  const cids: string[] = new Array<string>(n);
  const cidBytes = new Uint8Array(CID_BYTES);
  cidBytes.set(COMMIT_CID_PREFIX);
  for (let i = 0; i < n; i++) {
    cidBytes.set(
      digests.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES),
      COMMIT_CID_PREFIX.length,
    );
    cids[i] = cidString(cidBytes);
  }
  return cids;
}

/** The clock and every id's latest versions; `winners` are the checkpoint tree's entries. */
export async function decodeCheckpointState(
  state: Uint8Array,
  compression: Compression,
  winners: AsyncIterable<[string, CID]>,
): Promise<{
  events: ClockEvent[];
  versions: Map<string, Version[]>;
  merged: Map<string, Version>;
}> {
  const s = decodeLayoutValue<{
    events: Uint8Array;
    parents: Uint8Array;
    heights: Uint8Array;
    eventIds: Uint8Array;
    eventFields: Uint8Array;
    names: string[];
    ids: string[];
    versions: Uint8Array;
    merged: Uint8Array;
    cids: Uint8Array;
  }>(compression.inflate(state), "checkpoint state");
  try {
    // Ids: the tree's, in key order, then `ids` (those with no live doc).
    const tree = new Map<string, CID>();
    for await (const [id, cid] of winners) tree.set(id, cid);
    const allIds = [...tree.keys(), ...s.ids];
    const n = s.events.length / DIGEST_BYTES;
    const cids = commitCids(s.events);
    const parents = new VarintReader(s.parents);
    const heights = new VarintReader(s.heights);
    const eventIds = new VarintReader(s.eventIds);
    const eventFields = new VarintReader(s.eventFields);
    const events: ClockEvent[] = new Array<ClockEvent>(n);
    let height = 0;
    for (let i = 0; i < n; i++) {
      const p: string[] = [];
      for (let k = parents.read(); k > 0; k--)
        p.push(
          cids[i - parents.read()] ?? fail("a parent index is out of range"),
        );
      height += heights.read();
      const ids: string[] = [];
      for (let k = eventIds.read(); k > 0; k--)
        ids.push(
          allIds[eventIds.read()] ?? fail("an id index is out of range"),
        );
      let fields: (string[] | undefined)[] | undefined;
      for (let k = 0; k < ids.length; k++) {
        const count = eventFields.read();
        if (count === 0) continue;
        fields ??= new Array<string[] | undefined>(ids.length);
        const list: string[] = (fields[k] = []);
        for (let f = count - 1; f > 0; f--)
          list.push(
            s.names[eventFields.read()] ??
              fail("a field index is out of range"),
          );
      }
      events[i] = {
        cid: cids[i]!,
        parents: p,
        height,
        ids,
        ...(fields ? { fields } : {}),
      };
    }
    const versions = new Map<string, Version[]>();
    const reader = new VarintReader(s.versions);
    let explicit = 0;
    for (const id of allIds) {
      const list: Version[] = [];
      for (let k = reader.read(); k > 0; k--) {
        const e =
          events[reader.read()] ??
          fail("a version names an event out of range");
        const kind = reader.read();
        let doc: CID | null = null;
        if (kind === 0)
          doc =
            tree.get(id) ??
            fail(`the winner of ${JSON.stringify(id)} is not in the tree`);
        else if (kind === 2)
          doc = CID.decode(
            s.cids.subarray(explicit * CID_BYTES, ++explicit * CID_BYTES),
          );
        list.push({ event: e.cid, height: e.height, doc });
      }
      versions.set(id, list);
    }
    // Fields-merged current docs are the tree's docs.
    const merged = new Map<string, Version>();
    const mergedReader = new VarintReader(s.merged);
    for (let n = mergedReader.read(); n > 0; n--) {
      const id =
        allIds[mergedReader.read()] ?? fail("a merged id is out of range");
      const list = versions.get(id)!;
      const losers: Version[] = [];
      for (let k = mergedReader.read(); k > 0; k--)
        losers.push(
          list[mergedReader.read()] ?? fail("a loser is out of range"),
        );
      merged.set(id, {
        event: list[0]!.event,
        height: list[0]!.height,
        doc:
          tree.get(id) ??
          fail(`the merged doc of ${JSON.stringify(id)} is not in the tree`),
        losers,
      });
    }
    return { events, versions, merged };
  } catch (error) {
    if (error instanceof CorruptError) throw error;
    throw new CorruptError(
      "checkpoint",
      `state does not parse: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
