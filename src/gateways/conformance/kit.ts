// What the conformance cases share: the context a suite run gives them (fresh names, tracked
// handles, sections that honour skips) and helpers that make and check random commits.
import { sha256 } from "multiformats/hashes/sha2";
import { expect } from "vitest";
import { CID, DAG_CBOR } from "../../blocks/cid.js";
import { equalBytes } from "../../util/bytes.js";
import type { Gateway, HeadSet } from "../gateway.js";

export type GatewayConformanceCase =
  | "commits"
  | "heads"
  | "missing-commit"
  | "isolation"
  | "concurrency"
  | "close"
  | "watch"
  | "local";

/** One suite run's context, handed to each group of cases. */
export interface ConformanceKit {
  /** A ledger name no other case (or earlier run against a long-lived store) used. */
  readonly fresh: (label: string) => string;
  /** Opens a handle the case closes itself. */
  readonly open: () => Promise<Gateway>;
  /** Opens a handle closed after the case. */
  readonly openTracked: () => Promise<Gateway>;
  /** Closes `g` after the case. */
  readonly track: (g: Gateway) => Gateway;
  readonly openSibling: ((first: Gateway) => Promise<Gateway>) | undefined;
  /** Registers a case only when the gateway can open a sibling handle. */
  readonly itWithSibling: (title: string, fn: () => Promise<void>) => void;
  /** Registers a group of cases unless the gateway skips it. */
  readonly section: (kase: GatewayConformanceCase, body: () => void) => void;
  readonly watchTimeoutMs: number;
}

export interface TestCommit {
  readonly cid: CID;
  readonly bytes: Uint8Array;
}

export async function makeCommit(size = 3000): Promise<TestCommit> {
  const bytes = randomBytes(size);
  return { cid: CID.createV1(DAG_CBOR, await sha256.digest(bytes)), bytes };
}

export async function makeCommits(n: number): Promise<TestCommit[]> {
  return Promise.all(Array.from({ length: n }, () => makeCommit()));
}

type Tuple<N extends number, T, Acc extends T[] = []> = Acc["length"] extends N
  ? Acc
  : Tuple<N, T, [...Acc, T]>;

export async function putCommits<N extends number>(
  g: Gateway,
  ledger: string,
  n: N,
): Promise<Tuple<N, TestCommit>> {
  const commits = await makeCommits(n);
  for (const c of commits) await g.putCommit(ledger, c.cid, c.bytes);
  return commits as Tuple<N, TestCommit>;
}

export class ViewSlicingBytes extends Uint8Array<ArrayBuffer> {
  override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
    return this.subarray(start, end);
  }
}

export function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 65536 bytes a call.
  for (let at = 0; at < size; at += 65536)
    globalThis.crypto.getRandomValues(
      bytes.subarray(at, Math.min(size, at + 65536)),
    );
  return bytes;
}

export function cidStrings(cids: readonly CID[]): string[] {
  return cids.map((c) => c.toString());
}

export function sorted(commits: readonly TestCommit[]): string[] {
  return commits.map((c) => c.cid.toString()).sort();
}

export function expectBytes(
  actual: Uint8Array | undefined,
  expected: Uint8Array,
): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual?.length).toBe(expected.length);
  expect(equalBytes(actual!, expected), "bytes differ").toBe(true);
}

export function recordHeads(
  g: Gateway,
  ledger: string,
  timeoutMs: number,
): {
  all: HeadSet[];
  stop(): void;
  until(match: (heads: HeadSet) => boolean, what: string): Promise<void>;
} {
  const all: HeadSet[] = [];
  let wake: (() => void) | undefined;
  const stop = g.watch!(ledger, (heads) => {
    all.push(heads);
    wake?.();
  });
  return {
    all,
    stop,
    async until(match, what) {
      while (!all.some(match)) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          await new Promise<void>((resolve, reject) => {
            wake = resolve;
            timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `watch ${ledger}: no notification of ${what} within ${timeoutMs} ms`,
                  ),
                ),
              timeoutMs,
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
