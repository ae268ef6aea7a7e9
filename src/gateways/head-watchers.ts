// Fan-out of head changes between gateway handles that share one in-process store (two opens
// of memory://room, or of the same file:// folder). A handle does not hear its own writes: the
// Gateway.watch duty is to report changes made by other writers.
import type { HeadSet, Unsubscribe } from "./gateway.js";

interface Watcher {
  readonly owner: object;
  readonly onHeads: (heads: HeadSet) => void;
  active: boolean;
}

export class HeadWatchers {
  readonly #byLedger = new Map<string, Set<Watcher>>();

  add(
    ledger: string,
    owner: object,
    onHeads: (heads: HeadSet) => void,
  ): Unsubscribe {
    const watcher: Watcher = { owner, onHeads, active: true };
    let set = this.#byLedger.get(ledger);
    if (!set) this.#byLedger.set(ledger, (set = new Set()));
    set.add(watcher);
    return () => {
      watcher.active = false;
      set.delete(watcher);
      if (set.size === 0 && this.#byLedger.get(ledger) === set)
        this.#byLedger.delete(ledger);
    };
  }

  /**
   * Delivers on a microtask, never inside the writer's call: a watcher that writes back must
   * not re-enter the gateway mid-update, and one watcher's throw must not reach the writer
   * or the other watchers (it surfaces as an uncaught exception, never silently).
   */
  notify(ledger: string, from: object, heads: HeadSet): void {
    const set = this.#byLedger.get(ledger);
    if (!set) return;
    for (const watcher of set) {
      if (watcher.owner === from) continue;
      queueMicrotask(() => {
        if (watcher.active) watcher.onHeads(heads);
      });
    }
  }

  /** Drops every watcher a closing handle registered. */
  removeOwner(owner: object): void {
    for (const [ledger, set] of this.#byLedger) {
      for (const watcher of set) {
        if (watcher.owner !== owner) continue;
        watcher.active = false;
        set.delete(watcher);
      }
      if (set.size === 0) this.#byLedger.delete(ledger);
    }
  }
}
