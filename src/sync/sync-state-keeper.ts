// A Connection's sync state (sync-state.ts) in memory, written through to the ledger at most
// once per SAVE_EVERY_MS and once more on close. The record only bounds how much is pushed or
// pulled again after a restart — pushes are idempotent and the outbox is recomputed from the
// clock — so it need not cost a write per change.
import type { SyncState } from "./sync-state.js";

const SAVE_EVERY_MS = 1000;

export class SyncStateKeeper {
  #state: SyncState;
  readonly #write: (state: SyncState) => Promise<void>;
  readonly #onError: (error: Error) => void;
  #saving: Promise<void> | undefined;
  #wanted = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    initial: SyncState,
    write: (state: SyncState) => Promise<void>,
    onError: (error: Error) => void,
  ) {
    this.#state = initial;
    this.#write = write;
    this.#onError = onError;
  }

  /** The current state; a new object after every change, so identity tells of changes. */
  get state(): SyncState {
    return this.#state;
  }

  /** Takes the state read back from storage (nothing to write). */
  restore(saved: SyncState): void {
    this.#state = saved;
  }

  setPushed(heads: readonly string[]): void {
    this.#set({ ...this.#state, pushed: heads });
  }

  setRemote(heads: readonly string[]): void {
    if (!sameSet(heads, this.#state.remote))
      this.#set({ ...this.#state, remote: heads });
  }

  /** Forgets what the remote acknowledged: the whole outbox is pushed again. */
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
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#flush();
    }, SAVE_EVERY_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  async #flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
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

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}
