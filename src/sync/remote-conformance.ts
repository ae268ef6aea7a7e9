// The behaviour every Remote (one session on one remote ledger: a SyncServer over WebSocket
// or HTTP, any Gateway behind the gateway adapter) must show the sync engine, as a vitest
// suite a transport or gateway author runs in a few lines:
//
//   import { describeRemoteConformance } from "kiln/remote-conformance";
//   describeRemoteConformance("my-transport", { open: (ledger) => openMyRemote(url, ledger) });
//
// `open(ledger)` opens a new session on the remote ledger `ledger` (fresh names each case);
// two calls with one name are two sessions on one remote ledger, which the live cases use.
// Commits are real envelopes with random ciphertext. It imports nothing from Node.
import { sha256 } from "multiformats/hashes/sha2";
import { afterEach, describe, expect, it } from "vitest";
import { CID, DAG_CBOR, cidString } from "../blocks/cid.js";
import {
  decodeEnvelope,
  encodeEnvelope,
  ENVELOPE_VERSION,
} from "../blocks/envelope.js";
import type { WireCommit } from "./protocol/index.js";
import { isMissingCommit } from "./remote.js";
import type { LiveEvent, Remote } from "./remote.js";

export type RemoteConformanceCase =
  "pull" | "push" | "missing-commit" | "integrity" | "live" | "close";

export interface RemoteConformanceOptions {
  /** Opens a new session on remote ledger `ledger`. */
  readonly open: (ledger: string) => Promise<Remote>;
  /**
   * Cases the remote does not run, each with its reason (write it down where the remote is
   * documented). They are not registered at all: a run never reports a skipped assertion.
   */
  readonly skip?: Partial<Record<RemoteConformanceCase, string>>;
  /** How long a live case waits for news before failing (default 5000 ms). */
  readonly liveTimeoutMs?: number;
}

export function describeRemoteConformance(
  name: string,
  options: RemoteConformanceOptions,
): void {
  const run = globalThis.crypto.randomUUID().slice(0, 8);
  let counter = 0;
  const fresh = (label: string) => `remote-${run}-${label}-${++counter}`;
  const opened: Remote[] = [];
  const open = async (ledger: string): Promise<Remote> => {
    const remote = await options.open(ledger);
    opened.push(remote);
    return remote;
  };
  const liveTimeoutMs = options.liveTimeoutMs ?? 5000;
  const section = (kase: RemoteConformanceCase, body: () => void): void => {
    if (options.skip?.[kase] === undefined) describe(kase, body);
  };

  describe(`remote conformance: ${name}`, () => {
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((r) => r.close()));
    });

    it("states limits a push can work with", async () => {
      const r = await open(fresh("limits"));
      expect(r.limits.maxCommits).toBeGreaterThanOrEqual(1);
      expect(r.limits.maxMessage).toBeGreaterThanOrEqual(1024);
      expect(["push", "poll"]).toContain(r.live);
    });

    section("push", () => {
      it("acknowledges a push with the remote's heads, and a repeat with the same", async () => {
        const r = await open(fresh("push"));
        const chain = await makeChain(3);
        const heads = await r.push(chain, [chain[2]!.cid]);
        expect(strings(heads)).toEqual([chain[2]!.cid.toString()]);
        expect(strings(await r.push(chain, [chain[2]!.cid]))).toEqual(
          strings(heads),
        );
      });

      it("keeps heads of two writers that do not supersede each other", async () => {
        const ledger = fresh("branches");
        const r = await open(ledger);
        const [root] = await makeChain(1);
        const a = await makeCommit([root!.cid]);
        const b = await makeCommit([root!.cid]);
        await r.push([root!, a], [a.cid]);
        const after = await r.push([b], [b.cid]);
        // The ack names at least the pushed heads (a v2 SyncServer: only those).
        expect(strings(after)).toContain(b.cid.toString());
        expect(strings(after)).not.toContain(root!.cid.toString());
        expect((await pullAll(r, [])).heads.sort()).toEqual(
          [a.cid.toString(), b.cid.toString()].sort(),
        );
        // A merge of both supersedes both.
        const merge = await makeCommit([a.cid, b.cid]);
        expect(strings(await r.push([merge], [merge.cid]))).toEqual([
          merge.cid.toString(),
        ]);
      });

      it("takes a push in several batches, heads named with the last", async () => {
        const r = await open(fresh("batches"));
        const chain = await makeChain(6);
        await r.push(chain.slice(0, 3), undefined);
        const heads = await r.push(chain.slice(3), [chain[5]!.cid]);
        expect(strings(heads)).toEqual([chain[5]!.cid.toString()]);
        const got = await pullAll(r, []);
        expect(got.commits).toEqual(strings(chain.map((c) => c.cid)));
      });
    });

    section("pull", () => {
      it("gives a new ledger no commits and no heads", async () => {
        const r = await open(fresh("empty"));
        const got = await pullAll(r, []);
        expect([got.commits, got.heads]).toEqual([[], []]);
      });

      it("hands back every commit pushed, parents first, with the heads", async () => {
        const ledger = fresh("roundtrip");
        const writer = await open(ledger);
        const chain = await makeChain(5);
        const side = await makeCommit([chain[1]!.cid]);
        await writer.push([...chain, side], [chain[4]!.cid, side.cid]);
        const reader = await open(ledger);
        const got = await pullAll(reader, []);
        expect(got.heads.sort()).toEqual(
          strings([chain[4]!.cid, side.cid]).sort(),
        );
        expect(got.commits.sort()).toEqual(
          strings([...chain, side].map((c) => c.cid)).sort(),
        );
        expectParentsFirst(got.ordered);
        // The bytes are the bytes pushed.
        const byCid = new Map(got.ordered.map((c) => [cidString(c.cid), c]));
        for (const c of chain)
          expect(byCid.get(cidString(c.cid))?.bytes).toEqual(c.bytes);
      });

      it("sends only what `have` does not reach", async () => {
        const ledger = fresh("difference");
        const r = await open(ledger);
        const chain = await makeChain(6);
        await r.push(chain, [chain[5]!.cid]);
        const got = await pullAll(await open(ledger), [chain[3]!.cid]);
        expect(got.commits).toEqual(strings([chain[4]!.cid, chain[5]!.cid]));
        const none = await pullAll(await open(ledger), [chain[5]!.cid]);
        expect(none.commits).toEqual([]);
        expect(none.heads).toEqual([chain[5]!.cid.toString()]);
      });
    });

    section("missing-commit", () => {
      it("refuses heads naming a commit it does not hold, as missing-commit", async () => {
        const r = await open(fresh("missing"));
        const [lone] = await makeChain(1);
        const error = await r.push([], [lone!.cid]).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isMissingCommit(error)).toBe(true);
        const after = await pullAll(r, []);
        expect([after.commits, after.heads]).toEqual([[], []]);
      });
    });

    section("integrity", () => {
      it("never hands back a commit whose bytes do not match its cid as good", async () => {
        const ledger = fresh("integrity");
        const r = await open(ledger);
        const [good] = await makeChain(1);
        const other = await makeCommit([]);
        const forged = { cid: good!.cid, bytes: other.bytes };
        const pushed = await r.push([forged], [good!.cid]).then(
          () => true,
          () => false,
        );
        if (!pushed) return; // refused at the door: the strongest answer
        // Accepted blindly (a plain store): a pull must refuse it rather than pass it on.
        await expect(pullAll(await open(ledger), [])).rejects.toMatchObject({
          reason: "cid-mismatch",
        });
      });
    });

    section("live", () => {
      it("tells a following session of a push made by another", async () => {
        const ledger = fresh("live");
        const reader = await open(ledger);
        const writer = await open(ledger);
        const [root] = await makeChain(1);
        if (reader.live === "push") {
          const news = new Promise<LiveEvent>(
            (resolve) => (reader.onLive = resolve),
          );
          await reader.pull([], () => Promise.resolve(), { live: true });
          await writer.push([root!], [root!.cid]);
          const event = await withTimeout(news, liveTimeoutMs);
          const told = [
            ...event.commits.map((c) => c.cid.toString()),
            ...strings(event.heads ?? []),
          ];
          expect(told).toContain(root!.cid.toString());
        } else {
          // A poll remote holds a pull with `wait` until something changes.
          const got: WireCommit[] = [];
          const polled = reader.pull(
            [],
            (batch) => {
              got.push(...batch);
              return Promise.resolve();
            },
            { wait: liveTimeoutMs * 4 },
          );
          await writer.push([root!], [root!.cid]);
          const heads = await withTimeout(polled, liveTimeoutMs);
          expect(strings(heads)).toEqual([root!.cid.toString()]);
          expect(strings(got.map((c) => c.cid))).toEqual([
            root!.cid.toString(),
          ]);
        }
      });
    });

    section("close", () => {
      it("settles `ended` when closed and refuses requests after", async () => {
        const r = await open(fresh("close"));
        await r.close();
        await withTimeout(r.ended, liveTimeoutMs);
        const [c] = await makeChain(1);
        await expect(r.push([c!], [c!.cid])).rejects.toBeInstanceOf(Error);
      });
    });
  });
}

async function makeCommit(parents: readonly CID[]): Promise<WireCommit> {
  const bytes = encodeEnvelope({
    v: ENVELOPE_VERSION,
    parents: [...parents],
    iv: globalThis.crypto.getRandomValues(new Uint8Array(12)),
    data: globalThis.crypto.getRandomValues(new Uint8Array(64)),
    // Signed in form only: a blind store checks a commit names its writer and signature.
    w: new Uint8Array(32),
    s: new Uint8Array(64),
  });
  return { cid: CID.createV1(DAG_CBOR, await sha256.digest(bytes)), bytes };
}

async function makeChain(n: number): Promise<WireCommit[]> {
  const out: WireCommit[] = [];
  for (let i = 0; i < n; i++)
    out.push(await makeCommit(i === 0 ? [] : [out[i - 1]!.cid]));
  return out;
}

async function pullAll(
  remote: Remote,
  have: readonly CID[],
): Promise<{ commits: string[]; heads: string[]; ordered: WireCommit[] }> {
  const ordered: WireCommit[] = [];
  const heads = await remote.pull(have, (batch) => {
    ordered.push(...batch);
    return Promise.resolve();
  });
  return {
    commits: strings(ordered.map((c) => c.cid)),
    heads: strings(heads),
    ordered,
  };
}

function expectParentsFirst(commits: readonly WireCommit[]): void {
  // Parent order is read from the CIDs' positions: a commit's parents are earlier ones.
  const seen = new Set<string>();
  for (const c of commits) {
    const parents = parentsOf(c);
    for (const p of parents)
      if (commits.some((x) => cidString(x.cid) === p))
        expect(seen.has(p)).toBe(true);
    seen.add(cidString(c.cid));
  }
}

function parentsOf(commit: WireCommit): string[] {
  return decodeEnvelope(commit.bytes, "conformance commit").parents.map(
    cidString,
  );
}

function strings(cids: readonly CID[]): string[] {
  return cids.map((c) => c.toString());
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
