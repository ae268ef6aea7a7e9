// The ledger's listeners: changed rows after every write and merge (subscribe), background
// errors (on("error")), and the sync engine's feed of new commits. A listener that throws
// is reported as an error, never allowed to break the write that notified it.
import type { HostChange } from "../sync/host.js";
import type { DocFields } from "./doc.js";
import type { ChangeRow } from "./reads.js";

/** Called by subscribe() with the rows changed by a write or a merge. */
export type ChangesListener<T extends object = DocFields> = (
  rows: ChangeRow<T>[],
) => void;
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
    for (const listener of this.#rows) this.#call(listener, rows);
  }

  emitChange(change: HostChange): void {
    for (const listener of this.#changes) this.#call(listener, change);
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

  #call<T>(listener: (value: T) => void, value: T): void {
    try {
      listener(value);
    } catch (error) {
      this.emitError(error);
    }
  }
}
