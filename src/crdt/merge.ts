// Deterministic merge of document versions. For each doc id the state keeps its latest
// versions: those whose event has no descendant event writing the same id. One version is
// the usual case; several mean concurrent writes (a conflict). The winner is chosen by a
// rule every replica applies identically, so the merged state depends only on the set of
// events — never on arrival order, clocks or replica.
import type { CID } from "multiformats/cid";
import type { Clock, ClockEvent } from "./clock.js";
import { compareEvents } from "./clock.js";

export interface Version {
  /** The event (commit CID) that wrote this version. */
  event: string;
  height: number;
  /** The doc block, or null for a deletion (tombstone). */
  doc: CID | null;
  /** A slot for the caller's decoded doc body; not part of the merged state. */
  cache?: unknown;
  /** On a fields-merged current doc only: the live versions that lost a contested field. */
  losers?: readonly Version[];
}

/** Latest versions per id, winner first. */
export type VersionMap = Map<string, Version[]>;

/** An op as merged: the doc's CID (null: a deletion) and the fields a put changed. */
export type Op = readonly [
  id: string,
  doc: CID | null,
  fields?: readonly string[],
];

export interface MergeEvent extends ClockEvent {
  ops: readonly Op[];
}

/** The clock's per-id field lists of some ops (see ClockEvent.fields). */
export function opFields(
  ops: readonly Op[],
): (readonly string[] | undefined)[] | undefined {
  return ops.some((o) => o[2] !== undefined) ? ops.map((o) => o[2]) : undefined;
}

/**
 * Winner rule: a live version beats a deletion; then the higher event wins; then the
 * greater event CID. Returns < 0 when `a` wins over `b`.
 */
export function compareVersions(a: Version, b: Version): number {
  if ((a.doc === null) !== (b.doc === null)) return a.doc === null ? 1 : -1;
  if (a.height !== b.height) return b.height - a.height;
  return a.event < b.event ? 1 : a.event > b.event ? -1 : 0;
}

/**
 * Adds events (any order, duplicates allowed; every parent must be known or in the batch)
 * to the clock and folds their operations into `versions`. Returns the ids whose versions
 * changed, in the order they were first touched.
 */
export function mergeEvents(
  clock: Clock,
  versions: VersionMap,
  events: readonly MergeEvent[],
): { added: MergeEvent[]; changed: string[] } {
  const fresh = new Map<string, MergeEvent>();
  for (const e of events) if (!clock.has(e.cid)) fresh.set(e.cid, e);
  const ordered = [...fresh.values()].sort(compareEvents);
  const oldHeads = new Set(clock.heads);
  const added = clock.add(ordered) as MergeEvent[];

  // Fast path: an event that descends from every head the replica had before this merge
  // supersedes every version the replica held before it, with no ancestry walk.
  const seesOldHeads = new Map<string, Set<string>>();
  const sees = (e: MergeEvent): Set<string> => {
    const s = new Set<string>();
    for (const p of e.parents) {
      if (oldHeads.has(p)) s.add(p);
      const inner = seesOldHeads.get(p);
      if (inner) for (const h of inner) s.add(h);
    }
    seesOldHeads.set(e.cid, s);
    return s;
  };

  const changed = new Set<string>();
  for (const e of added) {
    const seesAll = sees(e).size === oldHeads.size;
    for (const [id, doc] of e.ops) {
      const current = versions.get(id) ?? [];
      const next: Version[] = [];
      for (const u of current) {
        const superseded =
          seesAll && !fresh.has(u.event)
            ? true
            : clock.isAncestor(u.event, e.cid);
        if (!superseded) next.push(u);
      }
      next.push({ event: e.cid, height: e.height, doc });
      next.sort(compareVersions);
      versions.set(id, next);
      changed.add(id);
    }
  }
  return { added, changed: [...changed] };
}
