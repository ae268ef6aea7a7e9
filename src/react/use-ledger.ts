// useLedger / useLedgerStatus over a LedgerCache: the component subscribes to the ledger's
// status, which opens the ledger on the first subscription (never during render).
import { useCallback, useSyncExternalStore } from "react";
import type { DocFields } from "../ledger/doc.js";
import type { OpenLedgerOptions } from "../ledger/open-ledger.js";
import { LedgerCache } from "./ledger-cache.js";
import type { LedgerOpener, LedgerStatus } from "./ledger-cache.js";

export type { LedgerOpener, LedgerStatus };

/** Options of useLedger: openLedger's. Only name, `storage` and `key` pick the ledger. */
export type UseLedgerOptions<T extends object = DocFields> =
  OpenLedgerOptions<T>;

const NO_LEDGER = { kind: "opening" } as const;
const caches = new WeakMap<LedgerOpener, LedgerCache>();
const noSubscription = () => () => undefined;

/** useLedgerStatus with the platform's openLedger given (the entries bind it). */
export function useLedgerStatusWith<T extends object>(
  open: LedgerOpener,
  name: string | undefined,
  options: UseLedgerOptions<T>,
): LedgerStatus<T> {
  let cache = caches.get(open);
  if (!cache) {
    cache = new LedgerCache(open);
    caches.set(open, cache);
  }
  const key = name === undefined ? undefined : LedgerCache.keyOf(name, options);
  const held = cache;
  // The options of the render that named this key are the ones it opens with.
  const subscribe = useCallback(
    (listener: () => void) =>
      key === undefined || name === undefined
        ? noSubscription()
        : held.use(key, name, options as OpenLedgerOptions<object>, listener),
    [held, key], // not `options`: a new options object each render must not reopen
  );
  const status = useSyncExternalStore(
    key === undefined ? noSubscription : subscribe,
    () => (key === undefined ? NO_LEDGER : held.status(key)),
    () => NO_LEDGER,
  );
  return status as LedgerStatus<T>;
}
