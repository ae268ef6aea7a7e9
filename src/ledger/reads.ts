// allDocs and changes: reads over the merged state.
import type { LedgerState } from "../crdt/ledger-state.js";
import { InvalidArgumentError } from "../util/errors.js";
import { CID } from "multiformats/cid";
import type { DocBody } from "./block-source.js";
import type { Doc, DocFields } from "./doc.js";

/** Which docs allDocs() returns: a range or prefix of ids, a limit, an order. */
export interface AllDocsOptions {
  /** Only ids starting with this string. */
  prefix?: string;
  /** Lowest id, inclusive. */
  start?: string;
  /** Highest id, inclusive. */
  end?: string;
  limit?: number;
  /** Highest id first. `start`/`end` still name the low and high bound. */
  descending?: boolean;
}

/** One doc in a change feed: its current value, or that it was deleted. */
export type ChangeRow<T extends object = DocFields> =
  { id: string; doc: Doc<T> } | { id: string; deleted: true };

export async function allDocsRows(
  state: LedgerState,
  options: AllDocsOptions,
  load: (id: string, cid: CID) => Promise<DocBody>,
): Promise<{ id: string; doc: Doc }[]> {
  const { prefix, start, end, limit, descending = false } = options;
  for (const [name, v] of [
    ["prefix", prefix],
    ["start", start],
    ["end", end],
  ] as const)
    if (v !== undefined && typeof v !== "string")
      throw new InvalidArgumentError(`allDocs: ${name} must be a string`);
  checkLimit("allDocs", limit);
  if (limit === 0) return [];
  let gte = start;
  const lte = end;
  if (prefix !== undefined) {
    if (gte === undefined || gte < prefix) gte = prefix;
    // Every string with the prefix sorts before prefix + U+FFFF... except ids that continue
    // with U+FFFF itself; the startsWith check below stops the walk exactly.
  }
  const rows: { id: string; doc: Doc }[] = [];
  const walk = state.tree.entries(await state.treeRoot(), {
    ...(gte !== undefined ? { gte } : {}),
    ...(lte !== undefined ? { lte } : {}),
    reverse: descending,
  });
  for await (const [id, cid] of walk) {
    if (prefix !== undefined && !id.startsWith(prefix)) {
      if (!descending || id < prefix) break;
      continue; // descending walks from above the prefix range down into it
    }
    rows.push({ id, doc: { _id: id, ...(await load(id, cid)) } });
    if (limit !== undefined && rows.length >= limit) break;
  }
  return rows;
}

/** What changes() resolves with. */
export interface ChangesResult<T extends object = DocFields> {
  rows: ChangeRow<T>[];
  /** The clock to pass as `since` next time. */
  clock: string[];
  /**
   * Set when `since` names commits this ledger does not hold (history it let go, or started
   * after, from a snapshot): the feed cannot say what changed since then, so `rows` holds
   * every current doc (deletions are not listed, and `limit` does not apply). Drop what was
   * read before and start again from these rows.
   */
  reset?: true;
}

/**
 * Every doc whose latest version is not reachable from `since`, once, in the order of its
 * latest change. With `limit`, whole commits are taken while they fit; a first commit larger
 * than the limit is returned whole so that a feed always advances. The returned clock
 * continues the feed exactly. A `since` naming commits not held gives a reset feed (see
 * ChangesResult.reset).
 */
export async function changeRows(
  state: LedgerState,
  since: readonly string[],
  limit: number | undefined,
  load: (id: string, cid: CID) => Promise<DocBody>,
): Promise<ChangesResult> {
  checkLimit("changes", limit);
  for (const s of since)
    if (typeof s !== "string" || !isCidString(s))
      throw new InvalidArgumentError(
        `changes: since must hold commit cids, not ${JSON.stringify(String(s)).slice(0, 80)}`,
      );
  if (!since.every((s) => state.clock.has(s))) return resetFeed(state, load);
  // The heads this feed covers, taken with the events: docs load below across awaits, and a
  // write landing meanwhile must show up in the next feed, not be marked as seen.
  const events = state.clock.since(since);
  const heads = [...state.clock.heads];
  let taken = events.length;
  if (limit !== undefined) {
    // Count distinct ids whose last change falls in the prefix of events taken.
    const last = new Map<string, number>();
    events.forEach((e, i) => e.ids.forEach((id) => last.set(id, i)));
    const endingAt = new Array<number>(events.length).fill(0);
    for (const i of last.values()) endingAt[i]!++;
    let count = 0;
    taken = 0;
    for (let i = 0; i < events.length; i++) {
      if (count + endingAt[i]! > limit && taken > 0) break;
      count += endingAt[i]!;
      taken = i + 1;
      if (count >= limit) break;
    }
  }
  const prefix = events.slice(0, taken);
  const lastIndex = new Map<string, number>();
  const all = new Map<string, number>();
  events.forEach((e, i) => e.ids.forEach((id) => all.set(id, i)));
  prefix.forEach((e, i) => e.ids.forEach((id) => lastIndex.set(id, i)));
  const ids = [...lastIndex.keys()]
    .filter((id) => all.get(id)! < taken)
    .sort((a, b) => lastIndex.get(a)! - lastIndex.get(b)! || (a < b ? -1 : 1));
  const rows: ChangeRow[] = [];
  for (const id of ids) {
    const w = state.current(id);
    rows.push(
      w?.doc
        ? { id, doc: { _id: id, ...(await load(id, w.doc)) } }
        : { id, deleted: true },
    );
  }
  let clock: string[];
  if (taken === events.length) clock = heads;
  else {
    const superseded = new Set<string>();
    for (const e of prefix) for (const p of e.parents) superseded.add(p);
    clock = [...new Set([...since, ...prefix.map((e) => e.cid)])]
      .filter((c) => !superseded.has(c))
      .sort();
  }
  return { rows, clock };
}

/** Every current doc, in id order, with the current heads: a feed that starts again. */
async function resetFeed(
  state: LedgerState,
  load: (id: string, cid: CID) => Promise<DocBody>,
): Promise<ChangesResult> {
  const clock = [...state.clock.heads];
  const rows: ChangeRow[] = [];
  for await (const [id, cid] of state.tree.entries(await state.treeRoot()))
    rows.push({ id, doc: { _id: id, ...(await load(id, cid)) } });
  return { rows, clock, reset: true };
}

function isCidString(s: string): boolean {
  try {
    CID.parse(s);
    return true;
  } catch {
    return false;
  }
}

function checkLimit(op: string, limit: unknown): void {
  if (
    limit !== undefined &&
    (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0)
  )
    throw new InvalidArgumentError(
      `${op}: limit must be a non-negative integer`,
    );
}
