// What both kiln/react entries share: the hooks that take a ledger, and the types.
export { useDoc, useLiveQuery, useConnection } from "./hooks.js";
export type {
  ConnectionState,
  DocState,
  DocUpdate,
  LiveQueryState,
  UseDocResult,
} from "./hooks.js";
export type { LedgerStatus, UseLedgerOptions } from "./use-ledger.js";
