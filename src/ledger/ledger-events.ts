// The ledger's listeners: changed rows after every write and merge (subscribe), background
// errors (on("error")), and the sync engine's feed of new commits. A listener that throws
// is reported as an error, never allowed to break the write that notified it.
import type { HostChange } from "../sync/host.js";
import type { DocFields } from "./doc.js";
import type { ChangeRow } from "./reads.js";

/** What a change notification is about, beside its rows. */
export interface ChangesInfo {
  /**
   * True when the ledger's state was replaced as a whole (it started from a snapshot):
   * `rows` is then empty and any doc may have changed — read again (allDocs, changes()).
   */
  readonly reset: boolean;
}

/** Called by subscribe() with the rows changed by a write or a merge. */
export type ChangesListener<T extends object = DocFields> = (
  rows: ChangeRow<T>[],
  info: ChangesInfo,
) => void;

const NOT_RESET: ChangesInfo = Object.freeze({ reset: false });
const RESET: ChangesInfo = Object.freeze({ reset: true });
/** Called with a background failure (a merge, a map function, a checkpoint). */
export type ErrorListener = (error: unknown) => void;

export class LedgerEvents {
  readonly #rows = new Set<ChangesListener>();
  readonly #errors = new Set<ErrorListener>();
  readonly #changes = new Set<(change: HostChange) => void>();

  /** True when someone listens for rows: building them reads docs. */
  get wantsRows(): boolean {
    return this.#rows.size > 0;
  }

  onRows(listener: ChangesListener): () => void {
    this.#rows.add(listener);
    return () => this.#rows.delete(listener);
  }

  onError(listener: ErrorListener): () => void {
    this.#errors.add(listener);
    return () => this.#errors.delete(listener);
  }

  onChange(listener: (change: HostChange) => void): () => void {
    this.#changes.add(listener);
    return () => this.#changes.delete(listener);
  }

  emitRows(rows: ChangeRow[]): void {
    for (const listener of this.#rows) this.#call(listener, rows, NOT_RESET);
  }

  /** Tells subscribers the state was replaced as a whole (see ChangesInfo.reset). */
  emitReset(): void {
    for (const listener of this.#rows) this.#call(listener, [], RESET);
  }

  emitChange(change: HostChange): void {
    for (const listener of this.#changes)
      this.#call(listener, change, undefined);
  }

  emitError(error: unknown): void {
    for (const l of this.#errors) {
      try {
        l(error);
      } catch {
        // An error listener that throws has nowhere left to report to.
      }
    }
  }

  #call<T, U>(listener: (value: T, info: U) => void, value: T, info: U): void {
    try {
      listener(value, info);
    } catch (error) {
      this.emitError(error);
    }
  }
}
