// A ledger reopened from an up-to-date checkpoint starts lazy: reads by id walk the
// checkpoint's tree, and the clock and version lists are inflated only when a write, a merge
// or a feed first needs them. One reopen then costs one small decode.
import type { LedgerState } from "../crdt/ledger-state.js";
import type { Checkpoint } from "./checkpoint.js";

export class StateLoader {
  readonly state: LedgerState;
  #lazy: Checkpoint | undefined;
  #loading: Promise<void> | undefined;

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

  /** Loads the clock and versions of the checkpoint the ledger opened from, once. */
  async ready(): Promise<void> {
    const lazy = this.#lazy;
    if (!lazy) return;
    this.#loading ??= (async () => {
      const { events, versions, merged } = await lazy.loadState(
        this.state.tree.entries(lazy.root),
      );
      this.state.restore(events, versions, lazy.root, merged);
      this.#lazy = undefined;
    })();
    await this.#loading;
  }
}
