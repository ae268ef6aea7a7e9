// The ledgers the React hooks hold open: one per name, storage and key, shared by every
// component that asks for it, opened when its first user subscribes and closed when its last
// user unsubscribes. The close waits a microtask, so StrictMode's unsubscribe-resubscribe (and
// a component handing a ledger to its replacement in one commit) keeps the ledger open. A
// ledger reopened while its previous instance is still closing waits for that close.
import type { DocFields } from "../ledger/doc.js";
import type { Ledger } from "../ledger/ledger.js";
import type { OpenLedgerOptions } from "../ledger/open-ledger.js";

/** Where a ledger the hooks opened stands: a discriminated union, like a connection's status. */
export type LedgerStatus<T extends object = DocFields> =
  | { readonly kind: "opening" }
  | { readonly kind: "open"; readonly ledger: Ledger<T> }
  | { readonly kind: "failed"; readonly error: unknown };

/** The platform's openLedger (the Node or the browser one). */
export type LedgerOpener = <T extends object = DocFields>(
  name: string,
  options?: OpenLedgerOptions<T>,
) => Promise<Ledger<T>>;

const OPENING = { kind: "opening" } as const;

interface Entry {
  status: LedgerStatus<object>;
  users: number;
  readonly listeners: Set<() => void>;
  readonly opened: Promise<Ledger<object> | undefined>;
}

export class LedgerCache {
  readonly #open: LedgerOpener;
  readonly #entries = new Map<string, Entry>();
  /** Closes still running, by key: a reopen waits for them. */
  readonly #closing = new Map<string, Promise<void>>();

  constructor(open: LedgerOpener) {
    this.#open = open;
  }

  /** The identity of a ledger: name, storage and key (other options do not reopen it). */
  static keyOf(name: string, options: OpenLedgerOptions<object>): string {
    return JSON.stringify([name, options.storage ?? null, options.key ?? null]);
  }

  status(key: string): LedgerStatus<object> {
    return this.#entries.get(key)?.status ?? OPENING;
  }

  /**
   * Adds a user of the ledger `key` (opening it when it is the first) who is told of every
   * status change; returns the release.
   */
  use(
    key: string,
    name: string,
    options: OpenLedgerOptions<object>,
    listener: () => void,
  ): () => void {
    let entry = this.#entries.get(key);
    if (!entry) entry = this.#start(key, name, options);
    entry.users++;
    entry.listeners.add(listener);
    const held = entry;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.listeners.delete(listener);
      held.users--;
      if (held.users === 0)
        queueMicrotask(() => {
          if (held.users === 0 && this.#entries.get(key) === held)
            this.#close(key, held);
        });
    };
  }

  #start(key: string, name: string, options: OpenLedgerOptions<object>): Entry {
    const before = this.#closing.get(key) ?? Promise.resolve();
    const entry: Entry = {
      status: OPENING,
      users: 0,
      listeners: new Set(),
      opened: before
        .then(() => this.#open(name, options))
        .then(
          (ledger) => {
            this.#set(entry, { kind: "open", ledger });
            return ledger;
          },
          (error: unknown) => {
            this.#set(entry, { kind: "failed", error });
            return undefined;
          },
        ),
    };
    this.#entries.set(key, entry);
    return entry;
  }

  #set(entry: Entry, status: LedgerStatus<object>): void {
    entry.status = status;
    for (const listener of [...entry.listeners]) listener();
  }

  #close(key: string, entry: Entry): void {
    this.#entries.delete(key);
    const closed = entry.opened
      .then((ledger) => ledger?.close())
      // A close that fails has no user left to tell; the next open reports what is wrong.
      .catch(() => undefined)
      .finally(() => {
        if (this.#closing.get(key) === closed) this.#closing.delete(key);
      });
    this.#closing.set(key, closed);
  }
}
