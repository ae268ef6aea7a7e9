// What library functions beside the Ledger class (exportLedger) reach of a ledger without
// widening its public surface: registered by the constructor, looked up by the ledger object.
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import { InvalidArgumentError } from "../util/errors.js";
import type { LedgerSnapshots } from "./ledger-snapshots.js";

export interface LedgerInternals {
  readonly storage: Gateway & { local: LocalStorage };
  readonly snapshots: LedgerSnapshots;
  readonly isClosed: () => boolean;
}

const byLedger = new WeakMap<object, LedgerInternals>();

export function registerInternals(
  ledger: object,
  internals: LedgerInternals,
): void {
  byLedger.set(ledger, internals);
}

export function internalsOf(
  ledger: object,
  operation: string,
): LedgerInternals {
  const internals = byLedger.get(ledger);
  if (!internals)
    throw new InvalidArgumentError(`${operation}: expected an open Ledger`);
  return internals;
}
