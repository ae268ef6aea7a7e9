// In-process watchers of each ledger's changes, shared by the backends. A watcher only ever
// hears about the ledger it subscribed to.
import type { LedgerChange } from "../backend.js";

type OnChange = (change: LedgerChange) => void;

export class LedgerWatchers {
  // One object per subscription, so the same function subscribed twice is two watchers
  // and unsubscribing one leaves the other.
  readonly #byLedger = new Map<string, Set<{ readonly onChange: OnChange }>>();

  add(ledger: string, onChange: OnChange): () => void {
    let set = this.#byLedger.get(ledger);
    if (!set) this.#byLedger.set(ledger, (set = new Set()));
    const entry = { onChange };
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#byLedger.get(ledger) === set)
        this.#byLedger.delete(ledger);
    };
  }

  /**
   * Calls every watcher of `ledger`. A watcher that throws does not stop the others, nor fail
   * the put that already stored its commits: its error is rethrown on a fresh task, where
   * the process's uncaught-exception handling reports it (as the DOM does for listeners).
   */
  emit(ledger: string, change: LedgerChange): void {
    const set = this.#byLedger.get(ledger);
    if (!set) return;
    for (const entry of [...set]) {
      // One watcher may unsubscribe another while this runs.
      if (!set.has(entry)) continue;
      try {
        entry.onChange(change);
      } catch (error) {
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }

  clear(): void {
    this.#byLedger.clear();
  }
}
