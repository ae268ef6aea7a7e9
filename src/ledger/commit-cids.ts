// Commit CIDs cross one seam: inside the ledger's core (the clock, versions, checkpoints)
// a commit is named by its CID string; storage and the sync engine take CID objects. This is
// the one place that converts, keeping the objects of current heads so a write does not
// re-parse what it just made.
import { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import type { Clock } from "../crdt/clock.js";

/** Past this many cached objects, those of commits no longer heads are dropped. */
const KEPT = 64;

export class CommitCids {
  readonly #clock: Clock;
  readonly #objects = new Map<string, CID>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The core's name for a commit. */
  name(cid: CID): string {
    const name = cidString(cid);
    this.#objects.set(name, cid);
    return name;
  }

  /** The seam's CID object for a commit the core names. */
  cid(name: string): CID {
    let cid = this.#objects.get(name);
    if (!cid) {
      cid = CID.parse(name);
      this.#objects.set(name, cid);
    }
    if (this.#objects.size > KEPT) {
      const heads = new Set(this.#clock.heads);
      for (const k of [...this.#objects.keys()])
        if (!heads.has(k)) this.#objects.delete(k);
    }
    return cid;
  }

  /** CIDs of the commits not reachable from the known commits of `boundary`, oldest first. */
  since(boundary: readonly string[]): CID[] {
    const clock = this.#clock;
    return clock
      .since(boundary.filter((c) => clock.has(c)))
      .map((e) => this.#objects.get(e.cid) ?? CID.parse(e.cid));
  }
}
