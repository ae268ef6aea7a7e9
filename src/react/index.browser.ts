// kiln/react in browsers: the hooks of index.core.ts, with ledgers opened by the browser
// openLedger (default storage indexeddb://kiln). Its graph reaches no node: module.
import type { DocFields } from "../ledger/doc.js";
import type { Ledger } from "../ledger/ledger.js";
import { openLedger } from "../platform/browser-platform.js";
import type { LedgerStatus, UseLedgerOptions } from "./index.core.js";
import { useLedgerStatusWith } from "./use-ledger.js";

export * from "./index.core.js";

/**
 * The ledger `name`, opened once for every component that names it with the same storage
 * and key (other options, and a new options object each render, do not reopen it), closed
 * when the last of them unmounts. Undefined while it opens, when `name` is undefined, and
 * when opening failed: {@link useLedgerStatus} tells which.
 */
export function useLedger<T extends object = DocFields>(
  name: string | undefined,
  options: UseLedgerOptions<T> = {},
): Ledger<T> | undefined {
  const status = useLedgerStatusWith(openLedger, name, options);
  return status.kind === "open" ? status.ledger : undefined;
}

/**
 * The ledger `name` as {@link useLedger} opens it, with where it stands: opening, open, or
 * failed with the error (a wrong key, storage that cannot be opened).
 */
export function useLedgerStatus<T extends object = DocFields>(
  name: string | undefined,
  options: UseLedgerOptions<T> = {},
): LedgerStatus<T> {
  return useLedgerStatusWith(openLedger, name, options);
}
