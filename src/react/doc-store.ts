// The external store behind useDoc: one doc of one ledger, read when the first component
// subscribes and followed through the ledger's change feed (local writes and merges alike).
// The snapshot object changes only when what it shows changes, so a write to another doc,
// or one that leaves this doc as it was, re-renders nothing. Every failure — a read, a save,
// a remove — lands in the snapshot's `error`: none is left as a rejected promise.
import type { Doc, DocFields, DocInput } from "../ledger/doc.js";
import type { Ledger, WriteResult } from "../ledger/ledger.js";
import {
  InvalidArgumentError,
  NotFoundError,
  SchemaError,
} from "../util/errors.js";
import { isSameValue } from "./same-value.js";

/** What useDoc shows: the doc (undefined while missing or loading), and the last error. */
export interface DocState<T extends object = DocFields> {
  readonly doc: Doc<T> | undefined;
  /** True until the first read finished (and while there is no ledger yet). */
  readonly loading: boolean;
  /** The last failure of a read, save() or remove(); cleared by the next success. */
  readonly error: unknown;
}

/** A new doc, or a function of the current one (undefined when missing). */
export type DocUpdate<T extends object = DocFields> =
  DocInput<T> | ((current: Doc<T> | undefined) => DocInput<T>);

const LOADING = {
  doc: undefined,
  loading: true,
  error: undefined,
};

export class DocStore<T extends object> {
  readonly #ledger: Ledger<T> | undefined;
  readonly #id: string;
  readonly #listeners = new Set<() => void>();
  #state: DocState<T> = LOADING;
  #stop: (() => void) | undefined;
  /** Bumped by every change seen: a read that started before it is stale. */
  #seen = 0;

  constructor(ledger: Ledger<T> | undefined, id: string) {
    this.#ledger = ledger;
    this.#id = id;
  }

  readonly getSnapshot = (): DocState<T> => this.#state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#stop?.();
        this.#stop = undefined;
      }
    };
  };

  /** Writes the doc under this id; resolves undefined (and sets `error`) when it fails. */
  readonly save = async (
    update: DocUpdate<T>,
  ): Promise<WriteResult | undefined> => {
    const ledger = this.#ledger;
    if (!ledger) return this.#fail(notOpen("save"));
    try {
      const next =
        typeof update === "function" ? update(this.#state.doc) : update;
      const result = await ledger.put({ ...next, _id: this.#id });
      if (this.#state.error !== undefined) this.#set({ error: undefined });
      return result;
    } catch (error) {
      return this.#fail(error);
    }
  };

  /** Deletes the doc; resolves undefined (and sets `error`) when it fails. */
  readonly remove = async (): Promise<WriteResult | undefined> => {
    const ledger = this.#ledger;
    if (!ledger) return this.#fail(notOpen("remove"));
    try {
      const result = await ledger.del(this.#id);
      if (this.#state.error !== undefined) this.#set({ error: undefined });
      return result;
    } catch (error) {
      return this.#fail(error);
    }
  };

  #start(): void {
    const ledger = this.#ledger;
    if (!ledger) return;
    const id = this.#id;
    const stopRows = ledger.subscribe((rows, info) => {
      // The ledger started over from a snapshot: any doc may have changed.
      if (info.reset) this.#read(ledger);
      for (const row of rows)
        if (row.id === id) {
          this.#seen++;
          this.#set({
            doc: "doc" in row ? row.doc : undefined,
            loading: false,
            error: undefined,
          });
        }
    });
    // A merged version failing the ledger's schema is not in the feed: read it, to show why.
    const stopErrors = ledger.on("error", (error) => {
      if (error instanceof SchemaError && error.id === id) this.#read(ledger);
    });
    this.#stop = () => {
      stopRows();
      stopErrors();
    };
    this.#read(ledger);
  }

  #read(ledger: Ledger<T>): void {
    const seen = this.#seen;
    ledger.get(this.#id).then(
      (doc) => {
        if (seen === this.#seen)
          this.#set({ doc, loading: false, error: undefined });
      },
      (error: unknown) => {
        if (seen !== this.#seen || !this.#stop) return;
        if (error instanceof NotFoundError)
          this.#set({ doc: undefined, loading: false, error: undefined });
        else this.#set({ loading: false, error });
      },
    );
  }

  #fail(error: unknown): undefined {
    this.#set({ error });
    return undefined;
  }

  /** Applies a change; the snapshot is replaced (and listeners told) only when it differs. */
  #set(change: Partial<DocState<T>>): void {
    const next = { ...this.#state, ...change };
    const prev = this.#state;
    if (
      next.loading === prev.loading &&
      next.error === prev.error &&
      isSameValue(next.doc, prev.doc)
    )
      return;
    this.#state = next;
    for (const listener of [...this.#listeners]) listener();
  }
}

function notOpen(op: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `${op}: there is no ledger yet (still opening)`,
  );
}
