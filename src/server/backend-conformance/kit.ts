// What the backend conformance cases share: the kit one suite run hands to each group of
// cases (fresh names, tracked opens, the options), and small helpers for their assertions.
import { describe, expect } from "vitest";
import type { CID } from "../../blocks/cid.js";
import { equalBytes } from "../../util/bytes.js";
import type { Backend, LedgerChange, StoredCommit } from "../backend.js";

export type BackendConformanceCase =
  | "commits"
  | "all-or-nothing"
  | "heads"
  | "isolation"
  | "watch"
  | "concurrency"
  | "close"
  | "revocation"
  | "reopen"
  | "snapshots"
  | "delete"
  | "drop"
  | "stored-bytes";

export interface BackendConformanceOptions {
  /**
   * Closes nothing; opens the store `closed` used again, after it was closed. Enables the
   * reopen case (a durable backend must keep everything).
   */
  reopen?: (closed: Backend) => Promise<Backend>;
  /**
   * Cases the backend does not run, each with the reason (write it down where the backend is
   * documented). They are not registered at all: a run never reports a skipped assertion.
   */
  skip?: Partial<Record<BackendConformanceCase, string>>;
  /**
   * What the backend still keeps that names `ledger` — rows, files, objects — described as
   * text; empty when nothing. The delete case checks it is empty after deleteLedger. The
   * commits put are passed so a store that can only be asked by key (a bucket) can look.
   */
  leftovers?: (
    backend: Backend,
    ledger: string,
    commits: readonly CID[],
  ) => Promise<string[]>;
  /**
   * Bytes the backend stores for `ledger` (file sizes, row bytes, objects): the drop case
   * checks they shrink by what it drops. (What the storage takes, not Backend.storedBytes.)
   */
  storedBytes?: (backend: Backend, ledger: string) => Promise<number>;
  /** How long a watch case waits for a change before failing (default 5000 ms). */
  watchTimeoutMs?: number;
}

export interface BackendConformanceKit {
  /** Random per suite run: names made with it are new to a store that holds data. */
  run: string;
  /** A ledger name no earlier case (or run) used. */
  fresh: (label: string) => string;
  /** Opens a backend that is closed after the case. */
  openTracked: () => Promise<Backend>;
  /** Opens a backend the case closes itself. */
  open: () => Promise<Backend>;
  /** Backends closed after the case: a case that reopens one adds it here. */
  opened: Backend[];
  options: BackendConformanceOptions;
  watchTimeoutMs: number;
  /** Registers a group of cases unless the backend skips it. */
  section: (kase: BackendConformanceCase, body: () => void) => void;
  /** Records the changes a watcher of `ledger` hears. */
  recordChanges: (b: Backend, ledger: string) => RecordedChanges;
}

export interface RecordedChanges {
  all: LedgerChange[];
  stop(): void;
  until(match: (all: LedgerChange[]) => boolean, what: string): Promise<void>;
}

export function createKit(
  open: () => Promise<Backend>,
  options: BackendConformanceOptions,
): BackendConformanceKit {
  const run = globalThis.crypto.randomUUID().slice(0, 8);
  let counter = 0;
  const opened: Backend[] = [];
  const watchTimeoutMs = options.watchTimeoutMs ?? 5000;
  return {
    run,
    fresh: (label) => `conformance-${run}-${label}-${++counter}`,
    openTracked: async () => {
      const backend = await open();
      opened.push(backend);
      return backend;
    },
    open,
    opened,
    options,
    watchTimeoutMs,
    section: (kase, body) => {
      if (options.skip?.[kase] === undefined) describe(kase, body);
    },
    recordChanges: (b, ledger) => recordChanges(b, ledger, watchTimeoutMs),
  };
}

function recordChanges(
  b: Backend,
  ledger: string,
  watchTimeoutMs: number,
): RecordedChanges {
  const all: LedgerChange[] = [];
  let wake: (() => void) | undefined;
  const stop = b.watch(ledger, (change) => {
    all.push(change);
    wake?.();
  });
  return {
    all,
    stop,
    async until(match, what) {
      while (!match(all)) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          await new Promise<void>((resolve, reject) => {
            wake = resolve;
            timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `watch ${ledger}: no ${what} within ${watchTimeoutMs} ms`,
                  ),
                ),
              watchTimeoutMs,
            );
          });
        } finally {
          clearTimeout(timer);
          wake = undefined;
        }
      }
    },
  };
}
export class ViewSlicingBytes extends Uint8Array<ArrayBuffer> {
  override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
    return this.subarray(start, end);
  }
}

export function cids(commits: readonly StoredCommit[]): CID[] {
  return commits.map((c) => c.cid);
}

export function texts(items: readonly (CID | StoredCommit)[]): string[] {
  return items.map((x) => (isStoredCommit(x) ? x.cid : x).toString());
}

export function isStoredCommit(x: CID | StoredCommit): x is StoredCommit {
  return "parents" in x;
}

export function sorted(commits: readonly StoredCommit[]): string[] {
  return texts(commits).sort();
}

export function metaText(
  meta: { parents: readonly CID[]; height: number } | undefined,
): { parents: string[]; height: number } | undefined {
  return meta && { parents: texts(meta.parents), height: meta.height };
}

export function expectBytes(
  actual: Uint8Array | undefined,
  expected: Uint8Array,
): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual?.length).toBe(expected.length);
  expect(equalBytes(actual!, expected), "bytes differ").toBe(true);
}
