// Reading commits back into events: the commits between the known clock and some heads,
// read from the ledger's storage, verified, decrypted and parsed. Used on reopen (the tail
// after the checkpoint) and for commits that arrived from elsewhere.
import type { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import { decodeValue } from "../blocks/codec.js";
import type { Clock } from "../crdt/clock.js";
import { fromEventValue } from "../crdt/event.js";
import type { MergeEvent } from "../crdt/merge.js";
import { CorruptError } from "../util/errors.js";
import type { BlockSource } from "./block-source.js";
import type { OpenedCommit } from "../blocks/commit.js";

export async function readNewEvents(
  blocks: BlockSource,
  clock: Clock,
  heads: readonly CID[],
  /** Told of each commit opened, so its docs can be cached without a second decrypt. */
  onOpened?: (commit: string, opened: OpenedCommit) => void,
): Promise<MergeEvent[]> {
  const found = new Map<string, MergeEvent>();
  const stack = [...heads];
  while (stack.length > 0) {
    const cid = stack.pop()!;
    const key = cidString(cid);
    if (found.has(key) || clock.has(key)) continue;
    const opened = await blocks.openCommit(cid);
    const eventCid = opened.roots[0];
    const eventBlock =
      eventCid && opened.blocks.find((b) => b.cid.equals(eventCid));
    if (!eventBlock)
      throw new CorruptError(`commit ${key}`, "has no event block");
    const body = fromEventValue(
      decodeValue(eventBlock.bytes, `event of commit ${key}`),
      `commit ${key}`,
    );
    onOpened?.(key, opened);
    const parents = opened.parents.map((p) => cidString(p));
    found.set(key, {
      cid: key,
      parents,
      height: body.h,
      ids: body.ops.map((o) => o[0]),
      ops: body.ops,
    });
    opened.parents.forEach((p, i) => {
      if (!clock.has(parents[i]!) && !found.has(parents[i]!)) stack.push(p);
    });
  }
  return [...found.values()];
}
