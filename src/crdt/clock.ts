// The Merkle clock: events named by CID, each naming its parents. An event's height is one
// more than its highest parent (1 for a root event), which lets ancestry walks stop early.
// Pure: the clock holds values and answers questions; it never reads or writes anything.
import { CorruptError } from "../util/errors.js";
import { MaxHeap } from "./max-heap.js";

export interface ClockEvent {
  /** The event's CID (in the ledger: the commit CID). */
  cid: string;
  parents: readonly string[];
  height: number;
  /** Ids the event wrote or deleted. */
  ids: readonly string[];
  /**
   * Per id (same order): the top-level fields a put changed against the version it
   * replaced, or undefined for a put of a whole doc or a deletion. Absent when every entry
   * would be undefined.
   */
  fields?: readonly (readonly string[] | undefined)[];
}

export class Clock {
  readonly #events = new Map<string, ClockEvent>();
  #heads: string[] = [];

  get heads(): readonly string[] {
    return this.#heads;
  }

  get size(): number {
    return this.#events.size;
  }

  /** Forgets every event. */
  clear(): void {
    this.#events.clear();
    this.#heads = [];
  }

  has(cid: string): boolean {
    return this.#events.has(cid);
  }

  get(cid: string): ClockEvent | undefined {
    return this.#events.get(cid);
  }

  /** The height an event with these parents must have. */
  heightAfter(parents: readonly string[]): number {
    let h = 0;
    for (const p of parents) h = Math.max(h, this.#require(p).height);
    return h + 1;
  }

  /** Adds events whose parents are known or earlier in the list; returns those that were new. */
  add(events: readonly ClockEvent[]): ClockEvent[] {
    const added: ClockEvent[] = [];
    for (const e of events) {
      if (this.#events.has(e.cid)) continue;
      const expected = this.heightAfter(e.parents);
      if (e.height !== expected)
        throw new CorruptError(
          `event ${e.cid}`,
          `height ${e.height} should be ${expected}`,
        );
      this.#events.set(e.cid, e);
      added.push(e);
    }
    if (added.length > 0) {
      const superseded = new Set<string>();
      for (const e of added) for (const p of e.parents) superseded.add(p);
      const heads = new Set(this.#heads.filter((h) => !superseded.has(h)));
      for (const e of added) if (!superseded.has(e.cid)) heads.add(e.cid);
      this.#heads = [...heads].sort();
    }
    return added;
  }

  /** True when `a` is `b` or one of its ancestors. */
  isAncestor(a: string, b: string): boolean {
    if (a === b) return true;
    const ea = this.#require(a);
    const eb = this.#require(b);
    if (ea.height >= eb.height) return false;
    const seen = new Set<string>();
    const stack = [eb];
    while (stack.length > 0) {
      const e = stack.pop()!;
      for (const p of e.parents) {
        if (p === a) return true;
        if (seen.has(p)) continue;
        seen.add(p);
        const pe = this.#require(p);
        if (pe.height > ea.height) stack.push(pe);
      }
    }
    return false;
  }

  /**
   * Events not reachable from `since` (unknown CIDs in `since` are an error), oldest first
   * in a deterministic topological order (height, then CID). Costs O(difference): the walk
   * stops once every event left on its frontier is an ancestor of `since`.
   */
  since(since: readonly string[]): ClockEvent[] {
    for (const s of since) this.#require(s);
    const isOld = new Map<string, boolean>();
    const heap = new MaxHeap<ClockEvent>(compareEvents);
    let newOnFrontier = 0;
    const visit = (cid: string, old: boolean) => {
      const prev = isOld.get(cid);
      if (prev === undefined) {
        isOld.set(cid, old);
        heap.push(this.#require(cid));
        if (!old) newOnFrontier++;
      } else if (old && !prev) {
        isOld.set(cid, true);
        newOnFrontier--;
      }
    };
    for (const s of since) visit(s, true);
    for (const h of this.#heads) visit(h, false);
    const out: ClockEvent[] = [];
    while (newOnFrontier > 0) {
      const e = heap.pop()!;
      const old = isOld.get(e.cid)!;
      if (!old) {
        newOnFrontier--;
        out.push(e);
      }
      for (const p of e.parents) visit(p, old);
    }
    return out.reverse();
  }

  /** Every event, in no particular order (for scans that need no order). */
  events(): IterableIterator<ClockEvent> {
    return this.#events.values();
  }

  /** Every event, oldest first (height, then CID). */
  all(): ClockEvent[] {
    return [...this.#events.values()].sort(compareEvents);
  }

  #require(cid: string): ClockEvent {
    const e = this.#events.get(cid);
    if (!e) throw new CorruptError(`clock`, `unknown event ${cid}`);
    return e;
  }
}

/** Height, then CID: a topological order every replica agrees on. */
export function compareEvents(a: ClockEvent, b: ClockEvent): number {
  if (a.height !== b.height) return a.height - b.height;
  return a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0;
}
