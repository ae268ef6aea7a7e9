// The outbox of one remote: the commits of the ledger the remote has not acknowledged. It
// needs no list of its own — the unsent commits are exactly those not reachable from
// `pushed` ∪ `remote` of the remote's sync state (sync-state.ts), so they are recomputed from
// the clock after a restart. The state is kept in memory and written through to the ledger
// at most once per SAVE_EVERY_MS and once more on close: the record only bounds how much is
// pushed or pulled again after a restart (pushes are idempotent), so it need not cost a
// write per change.
import type { CID } from "multiformats/cid";
import type { Clock } from "../util/clock.js";
import { realClock } from "../util/clock.js";
import type { CancelTimer } from "../util/clock.js";
import type { SyncHost } from "./host.js";
import type { SyncState } from "./sync-state.js";

const SAVE_EVERY_MS = 1000;

export interface OutboxOptions {
  /** Writes the state through to the ledger. */
  readonly write: (state: SyncState) => Promise<void>;
  /** Told of a failed write (the next change tries again). */
  readonly onError: (error: Error) => void;
  readonly clock?: Clock;
}

export class Outbox {
  #state: SyncState;
  readonly #write: (state: SyncState) => Promise<void>;
  readonly #onError: (error: Error) => void;
  readonly #clock: Clock;
  #pending = 0;
  #saving: Promise<void> | undefined;
  #wanted = false;
  #timer: CancelTimer | undefined;
  #closed = false;

  constructor(initial: SyncState, options: OutboxOptions) {
    this.#state = initial;
    this.#write = options.write;
    this.#onError = options.onError;
    this.#clock = options.clock ?? realClock;
  }

  /** The current state; a new object after every change, so identity tells of changes. */
  get state(): SyncState {
    return this.#state;
  }

  /** Commits not acknowledged, as of the last count (unsent()) and the writes since. */
  get pending(): number {
    return this.#pending;
  }

  /** Takes the state read back from storage (nothing to write). */
  restore(saved: SyncState): void {
    this.#state = saved;
  }

  /** Local commits were written: they wait here until the next push. */
  added(count: number): void {
    this.#pending += count;
  }

  /**
   * The commits to push, parents first: those of the ledger not reachable from what the
   * remote acknowledged or was seen to hold. Recounts `pending`.
   */
  async unsent(host: SyncHost): Promise<CID[]> {
    const cids = await host.since(outboxBoundary(this.#state, host));
    this.#pending = cids.length;
    return cids;
  }

  /** A batch of `count` commits was acknowledged, the remote's heads after it `heads`. */
  acknowledged(count: number, heads: readonly string[]): void {
    this.#pending = Math.max(0, this.#pending - count);
    this.setRemote(heads);
  }

  setPushed(heads: readonly string[]): void {
    this.#set({ ...this.#state, pushed: heads });
  }

  setRemote(heads: readonly string[]): void {
    if (!sameSet(heads, this.#state.remote))
      this.#set({ ...this.#state, remote: heads });
  }

  /** Forgets what the remote acknowledged: the whole ledger is pushed again. */
  reset(): void {
    this.#set({ ...this.#state, pushed: [], remote: [] });
  }

  /** Writes what changed and stops writing. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#flush();
  }

  #set(state: SyncState): void {
    this.#state = state;
    this.#wanted = true;
    if (this.#timer || this.#saving || this.#closed) return;
    this.#timer = this.#clock.setTimer(
      () => {
        this.#timer = undefined;
        void this.#flush();
      },
      SAVE_EVERY_MS,
      { weak: true },
    );
  }

  async #flush(): Promise<void> {
    this.#timer?.();
    this.#timer = undefined;
    await this.#saving;
    if (!this.#wanted) return;
    this.#wanted = false;
    this.#saving = this.#write(this.#state)
      .catch((error: unknown) => this.#onError(error as Error))
      .finally(() => {
        this.#saving = undefined;
        // Changes made while this write ran get their own, later.
        if (this.#wanted && !this.#closed) this.#set(this.#state);
      });
    await this.#saving;
  }
}

/** The commits below which everything counts as on the remote (the known ones only). */
export function outboxBoundary(
  state: SyncState,
  host: Pick<SyncHost, "has">,
): string[] {
  return [...state.pushed, ...state.remote].filter((c) => host.has(c));
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}
