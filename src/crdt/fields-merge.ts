// Fields merge: the current doc of an id whose latest versions hold several live docs
// (concurrent puts). Every put records the top-level fields it changed against the doc it
// replaced (a put over no live doc changes them all). For each live version, its _branch_
// is the writes of the id that it descends from and that not every live version descends
// from; the fields its branch changed are the fields it brings. A field brought by one
// branch takes that branch's value; a field no branch changed takes the winner's (they
// agree); a field brought by several takes the value of the first of them in version order
// (compareVersions), and a version whose value for it differs has lost: it is kept readable
// among the doc's conflicts. Deletions among the latest versions take no part (a live
// version beats a deletion), but a deletion inside a branch changes every field.
//
// Pure: the result depends only on the set of events and the docs they wrote.
import type { Clock, ClockEvent } from "./clock.js";
import { compareEvents } from "./clock.js";
import { MaxHeap } from "./max-heap.js";
import type { Version } from "./merge.js";

export type Body = Readonly<Record<string, unknown>>;

/** Most live versions whose branches are told apart; beyond, every field is contested. */
const MAX_BRANCHES = 30;

/**
 * Merges the live latest versions of `id` (winner first, at least two) given their docs.
 * Returns the merged doc and the versions that lost a contested field.
 */
export function mergeFields(
  clock: Clock,
  id: string,
  live: readonly Version[],
  bodies: readonly Body[],
): { body: Record<string, unknown>; losers: Version[] } {
  const changes = branchChanges(
    clock,
    id,
    live.map((v) => v.event),
  );
  const keys = new Set<string>();
  for (const b of bodies) for (const k of Object.keys(b)) keys.add(k);
  const body: Record<string, unknown> = {};
  const lost = new Set<number>();
  for (const key of [...keys].sort()) {
    let from = 0;
    let found = false;
    for (let i = 0; i < live.length; i++) {
      const c = changes[i]!;
      if (c !== "all" && !c.has(key)) continue;
      if (!found) {
        from = i;
        found = true;
      } else if (!sameField(bodies[from]!, bodies[i]!, key)) lost.add(i);
    }
    if (key in bodies[from]!) body[key] = bodies[from]![key];
  }
  return { body, losers: live.filter((_, i) => lost.has(i)) };
}

/**
 * Per version (commit CID of a live version of `id`): the fields its branch changed, or
 * "all" when its branch created the doc anew. Walks down from the versions, highest first,
 * and stops where every version's history has joined.
 */
export function branchChanges(
  clock: Clock,
  id: string,
  versions: readonly string[],
): (Set<string> | "all")[] {
  const out: (Set<string> | "all")[] = versions.map(() => new Set<string>());
  if (versions.length > MAX_BRANCHES) return versions.map(() => "all");
  const full = 2 ** versions.length - 1;
  const masks = new Map<string, number>();
  const heap = new MaxHeap<ClockEvent>(compareEvents);
  let partial = 0;
  const reach = (cid: string, mask: number) => {
    const before = masks.get(cid);
    if (before === undefined) {
      const e = clock.get(cid);
      if (!e) return; // below what this replica holds: nothing of the branches
      masks.set(cid, mask);
      heap.push(e);
      if (mask !== full) partial++;
      return;
    }
    const after = before | mask;
    if (after === before) return;
    masks.set(cid, after);
    if (after === full) partial--;
  };
  versions.forEach((v, i) => reach(v, 2 ** i));
  while (partial > 0) {
    const e = heap.pop()!;
    const mask = masks.get(e.cid)!;
    if (mask === full) continue;
    partial--;
    const at = e.ids.indexOf(id);
    if (at >= 0) {
      const fields = e.fields?.[at];
      for (let i = 0; i < versions.length; i++) {
        if ((mask & (2 ** i)) === 0) continue;
        const set = out[i]!;
        if (set === "all") continue;
        if (!fields) out[i] = "all";
        else for (const f of fields) set.add(f);
      }
    }
    for (const p of e.parents) reach(p, mask);
  }
  return out;
}

/** Top-level fields set, changed or removed from `base` to `next`, sorted. */
export function changedFields(base: Body, next: Body): string[] {
  const out: string[] = [];
  for (const k of Object.keys(next))
    if (!(k in base) || !sameValue(base[k], next[k])) out.push(k);
  for (const k of Object.keys(base)) if (!(k in next)) out.push(k);
  return out.sort();
}

function sameField(a: Body, b: Body, key: string): boolean {
  const inA = key in a;
  if (inA !== key in b) return false;
  return !inA || sameValue(a[key], b[key]);
}

/** Deep equality of decoded doc values (maps, lists, byte strings, scalars). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (
    typeof a !== "object" ||
    typeof b !== "object" ||
    a === null ||
    b === null
  )
    return Object.is(a, b);
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array)) return false;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length)
      return false;
    return a.every((v, i) => sameValue(v, b[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  return keys.every((k) => k in y && sameValue(x[k], y[k]));
}
