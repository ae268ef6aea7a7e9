// A ledger reopened from an up-to-date checkpoint starts lazy: reads by id walk the
// checkpoint's tree, and the clock and version lists are inflated only when a write, a merge
// or a feed first needs them. One reopen then costs one small decode. A snapshot adopted by
// an empty ledger starts lazy the same way (ledger-snapshots.ts).
import type { LedgerState } from "../crdt/ledger-state.js";
import type { Checkpoint } from "./checkpoint.js";

export class StateLoader {
  readonly state: LedgerState;
  #lazy: Checkpoint | undefined;
  #loading: Promise<void> | undefined;
  /** The lazy checkpoint's commits, decoded only when has() asks before ready(). */
  #lazyCommits: Set<string> | undefined;

  constructor(state: LedgerState, lazy: Checkpoint | undefined) {
    this.state = state;
    this.#lazy = lazy;
  }

  /** True until the checkpoint's clock and versions are loaded. */
  get isLazy(): boolean {
    return this.#lazy !== undefined;
  }

  /** The current heads: commit CIDs. */
  get heads(): string[] {
    if (this.#lazy) return this.#lazy.heads.map((h) => h.cid);
    return [...this.state.clock.heads];
  }

  /** True when the commit is merged (on a lazy state: one of the checkpoint's commits). */
  has(cid: string): boolean {
    const lazy = this.#lazy;
    if (!lazy) return this.state.clock.has(cid);
    if (lazy.heads.some((h) => h.cid === cid)) return true;
    this.#lazyCommits ??= new Set(lazy.commits());
    return this.#lazyCommits.has(cid);
  }

  /**
   * Makes an empty state lazy over `checkpoint` (an adopted snapshot): nothing is decoded
   * until a write, a merge or a feed needs it. Only valid while the state is empty.
   */
  adopt(checkpoint: Checkpoint): void {
    this.#lazy = checkpoint;
    this.#loading = undefined;
    this.#lazyCommits = undefined;
    this.state.restoreRoot(checkpoint.root);
  }

  /** Loads the clock and versions of the checkpoint the ledger opened from, once. */
  async ready(): Promise<void> {
    const lazy = this.#lazy;
    if (!lazy) return;
    this.#loading ??= (async () => {
      const { events, versions, merged } = await lazy.loadState(
        this.state.tree.entries(lazy.root),
      );
      // A second adopt() meanwhile replaced what this load is for.
      if (this.#lazy !== lazy) return;
      this.state.restore(events, versions, lazy.root, merged);
      this.#lazy = undefined;
      this.#lazyCommits = undefined;
    })();
    await this.#loading;
  }
}
