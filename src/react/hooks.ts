// useDoc, useLiveQuery and useConnection: each a useSyncExternalStore over a store made per
// ledger and arguments (doc-store.ts, live-query-store.ts, connection-store.ts). A store does
// nothing until a component subscribes, so StrictMode's double renders cost nothing, and each
// accepts `undefined` for a ledger still opening.
import { useMemo, useSyncExternalStore } from "react";
import type { DocFields } from "../ledger/doc.js";
import type { Ledger } from "../ledger/ledger.js";
import type { MapFn, QueryOptions } from "../ledger/query.js";
import type { ConnectOptions } from "../ledger/sync-host.js";
import { ConnectionStores } from "./connection-store.js";
import type { ConnectionState } from "./connection-store.js";
import { DocStore } from "./doc-store.js";
import type { DocState, DocUpdate } from "./doc-store.js";
import { LiveQueryStore } from "./live-query-store.js";
import type { LiveQueryState } from "./live-query-store.js";
import type { WriteResult } from "../ledger/ledger.js";

export type { ConnectionState, DocState, DocUpdate, LiveQueryState };

/** What useDoc returns: the doc's state, and writes to it that never reject. */
export interface UseDocResult<
  T extends object = DocFields,
> extends DocState<T> {
  /**
   * Writes the doc under this id: a new doc, or a function of the current one (field merge
   * keeps concurrent writes to other fields). Resolves undefined, and sets `error`, when
   * the write fails.
   */
  readonly save: (update: DocUpdate<T>) => Promise<WriteResult | undefined>;
  /** Deletes the doc. Resolves undefined, and sets `error`, when it fails. */
  readonly remove: () => Promise<WriteResult | undefined>;
}

/**
 * The doc `id` of `ledger`, kept current: it re-renders after a local or a merged write of
 * this doc that changes it, and for nothing else.
 */
export function useDoc<T extends object>(
  ledger: Ledger<T> | undefined,
  id: string,
): UseDocResult<T> {
  const store = useMemo(() => new DocStore<T>(ledger, id), [ledger, id]);
  const state = useSyncExternalStore(
    store.subscribe,
    store.getSnapshot,
    store.getSnapshot,
  );
  return { ...state, save: store.save, remove: store.remove };
}

/**
 * The rows of `ledger.query(index, options)`, kept current with `ledger.live()`: it
 * re-renders when the rows change, and for nothing else. A new options object with the same
 * values each render is the same query; a map function is known by its source text.
 */
export function useLiveQuery<T extends object>(
  ledger: Ledger<T> | undefined,
  index: string | MapFn<T>,
  options: QueryOptions = {},
): LiveQueryState<T> {
  const key = LiveQueryStore.keyOf(index, options);
  const store = useMemo(
    () => new LiveQueryStore<T>(ledger, index, options),
    // The key stands for index and options: their values, not their identity.
    [ledger, key],
  );
  return useSyncExternalStore(
    store.subscribe,
    store.getSnapshot,
    store.getSnapshot,
  );
}

const connections = new ConnectionStores();

const NO_CONNECTION: ConnectionState = {
  status: { kind: "connecting" },
  pending: 0,
  error: undefined,
  connection: undefined,
};
const NOT_CONNECTED: ConnectionState = {
  ...NO_CONNECTION,
  status: { kind: "closed" },
};
const noSubscription = () => () => undefined;

/**
 * Replicates `ledger` with `url` while the component is mounted: its status, pending count
 * and last error. Components asking for the same ledger, URL and options share one
 * connection, closed when the last of them unmounts. `url` undefined connects nothing.
 */
export function useConnection<T extends object>(
  ledger: Ledger<T> | undefined,
  url: string | readonly string[] | undefined,
  options: ConnectOptions = {},
): ConnectionState {
  const key = url === undefined ? undefined : JSON.stringify([url, options]);
  const store = useMemo(
    () =>
      url === undefined
        ? { subscribe: noSubscription, getSnapshot: () => NOT_CONNECTED }
        : ledger === undefined
          ? { subscribe: noSubscription, getSnapshot: () => NO_CONNECTION }
          : connections.get(ledger as unknown as Ledger<object>, url, options),
    // The key stands for url and options: their values, not their identity.
    [ledger, key],
  );
  return useSyncExternalStore(
    store.subscribe,
    store.getSnapshot,
    store.getSnapshot,
  );
}
