// Which commits a client lacks: everything reachable from the ledger's heads and not from the
// commits the client says it has. The walk costs O(difference), not O(history): it goes down
// from the heads and from `have` at once, highest commits first, painting each commit
// "wanted" (reached from a head) and/or "client has" (reached from `have`), and stops as soon
// as no commit that is only wanted is left to expand. A commit's paint is final when its
// height comes up, because all its children are higher and were expanded before it.
import { cidKey, type CID } from "../blocks/cid.js";
import { CorruptError } from "../util/errors.js";
import type { Backend } from "./backend.js";

const WANTED = 1;
const HAS = 2;

interface Node {
  readonly cid: CID;
  readonly height: number;
  readonly parents: readonly CID[];
  readonly dropped: boolean;
  paint: number;
}

/** What missingCommitsFrom found: the commits, and whether any of them lost its bytes. */
export interface Missing {
  readonly cids: CID[];
  /** Some of `cids` were dropped (a snapshot covers them): they cannot be sent. */
  readonly dropped: boolean;
}

/**
 * The commits of `ledger` the holder of `have` lacks, parents before children (ascending
 * height, ties by CID string). CIDs in `have` the backend does not hold are ignored. Meta is
 * read one height level per backend call, so a client missing nothing costs one getHeads and
 * one getMeta, and a client missing k commits about k levels' worth of calls. The walk also
 * expands the client's side down to the lowest wanted commit: a new commit whose parent is
 * far older than the client's heads costs the commits in between (the price of a walk by
 * height without a reachability index).
 */
export async function missingCommits(
  backend: Backend,
  ledger: string,
  have: readonly CID[],
): Promise<CID[]> {
  return (
    await missingCommitsFrom(
      backend,
      ledger,
      await backend.getHeads(ledger),
      have,
    )
  ).cids;
}

/**
 * missingCommits from given `heads` (held commits) instead of the ledger's: the commits
 * reachable from `heads` and not from `have`, and whether any of them was dropped.
 */
export async function missingCommitsFrom(
  backend: Backend,
  ledger: string,
  heads: readonly CID[],
  have: readonly CID[],
): Promise<Missing> {
  if (heads.length === 0) return { cids: [], dropped: false };
  const nodes = new Map<string, Node>();
  // Nodes not yet expanded, by height; `heights` orders the keys of `levels`.
  const levels = new Map<number, Node[]>();
  const heights = new MaxHeap();
  let onlyWanted = 0;
  const found: Node[] = [];

  // Reads the meta of newly reached commits (one call) and queues them.
  const reach = async (
    pending: Map<string, { cid: CID; paint: number }>,
    isKnown: (paint: number) => boolean,
  ): Promise<void> => {
    if (pending.size === 0) return;
    const reached = [...pending.values()];
    const metas = await backend.getMeta(
      ledger,
      reached.map((r) => r.cid),
    );
    reached.forEach(({ cid, paint }, i) => {
      const meta = metas[i];
      if (!meta) {
        // Unknown CIDs the client has are expected; a missing head or parent is damage.
        if (isKnown(paint)) return;
        throw new CorruptError(
          `ledger ${JSON.stringify(ledger.slice(0, 64))}`,
          `commit ${cid.toString()} is reachable from the heads but not held`,
        );
      }
      const node: Node = {
        cid,
        height: meta.height,
        parents: meta.parents,
        dropped: meta.dropped === true,
        paint,
      };
      nodes.set(cidKey(cid), node);
      const level = levels.get(meta.height);
      if (level) level.push(node);
      else {
        levels.set(meta.height, [node]);
        heights.push(meta.height);
      }
      if (paint === WANTED) onlyWanted++;
    });
  };

  const start = new Map<string, { cid: CID; paint: number }>();
  const mark = (
    into: Map<string, { cid: CID; paint: number }>,
    cid: CID,
    paint: number,
  ): void => {
    const key = cidKey(cid);
    const entry = into.get(key);
    if (entry) entry.paint |= paint;
    else into.set(key, { cid, paint });
  };
  for (const cid of heads) mark(start, cid, WANTED);
  for (const cid of have) mark(start, cid, HAS);
  await reach(start, (paint) => paint === HAS);

  while (onlyWanted > 0) {
    const height = heights.pop()!;
    const level = levels.get(height)!;
    levels.delete(height);
    const pending = new Map<string, { cid: CID; paint: number }>();
    for (const node of level) {
      if (node.paint === WANTED) {
        onlyWanted--;
        found.push(node);
      }
      for (const parent of node.parents) {
        const known = nodes.get(cidKey(parent));
        if (!known) {
          mark(pending, parent, node.paint);
          continue;
        }
        // Queued below this level, not expanded yet: its paint may still grow.
        if (known.paint === WANTED && (node.paint & HAS) !== 0) onlyWanted--;
        known.paint |= node.paint;
      }
    }
    await reach(pending, () => false);
  }

  const cids = found
    .map((node) => ({ node, text: node.cid.toString() }))
    .sort(
      (a, b) =>
        a.node.height - b.node.height ||
        (a.text < b.text ? -1 : a.text > b.text ? 1 : 0),
    )
    .map(({ node }) => node.cid);
  return { cids, dropped: found.some((n) => n.dropped) };
}

/** A binary max-heap of numbers: the heights still to expand. */
class MaxHeap {
  readonly #items: number[] = [];

  push(value: number): void {
    const items = this.#items;
    let at = items.push(value) - 1;
    while (at > 0) {
      const up = (at - 1) >> 1;
      if (items[up]! >= value) break;
      items[at] = items[up]!;
      at = up;
    }
    items[at] = value;
  }

  pop(): number | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && items[right]! > items[left]! ? right : left;
      if (items[child]! <= last) break;
      items[at] = items[child]!;
      at = child;
    }
    items[at] = last;
    return top;
  }
}
