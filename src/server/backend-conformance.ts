// The behaviour every SyncServer Backend must show, as a vitest suite a backend runs in a few
// lines (the memory and embedded backends do, in backends/*.test.ts; a Postgres backend will):
//
//   describeBackendConformance("postgres", () => openPostgresBackend(url), {
//     reopen: async (closed) => openPostgresBackend(url),
//   });
//
// It touches the backend only through the Backend interface, uses fresh ledger names and
// fresh commits, and asserts only on what it wrote, so it also runs against a store that
// already holds data. It imports nothing from Node.
import { afterEach, describe, expect, it } from "vitest";
import type { CID } from "../blocks/cid.js";
import { ProtocolError } from "../sync/protocol/error.js";
import { MAX_HEADS } from "../sync/protocol/fields.js";
import { equalBytes } from "../util/bytes.js";
import { ClosedError, KilnError } from "../util/errors.js";
import type { Backend, LedgerChange, StoredCommit } from "./backend.js";
import { makeTestChain, makeTestCommit } from "./backends/test-commits.js";
import { dropCase } from "./backend-conformance-drop.js";

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
  | "drop";

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
   * checks they shrink by what it drops.
   */
  storedBytes?: (backend: Backend, ledger: string) => Promise<number>;
  /** How long a watch case waits for a change before failing (default 5000 ms). */
  watchTimeoutMs?: number;
}

export function describeBackendConformance(
  name: string,
  open: () => Promise<Backend>,
  options: BackendConformanceOptions = {},
): void {
  const run = globalThis.crypto.randomUUID().slice(0, 8);
  let counter = 0;
  const fresh = (label: string): string =>
    `conformance-${run}-${label}-${++counter}`;
  const opened: Backend[] = [];
  const openTracked = async (): Promise<Backend> => {
    const backend = await open();
    opened.push(backend);
    return backend;
  };
  const watchTimeoutMs = options.watchTimeoutMs ?? 5000;
  const section = (kase: BackendConformanceCase, body: () => void): void => {
    if (options.skip?.[kase] === undefined) describe(kase, body);
  };

  describe(`backend conformance: ${name}`, () => {
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((b) => b.close()));
    });

    section("commits", () => {
      it("stores commits and returns bytes and meta in the order asked", async () => {
        const b = await openTracked();
        const ledger = fresh("commits");
        const [root, child] = await makeTestChain(2);
        const other = await makeTestCommit([root!.cid]);
        const unknown = await makeTestCommit();
        const result = await b.putCommits(ledger, [root!, child!, other]);
        expect(texts(result.added)).toEqual(texts([root!, child!, other]));
        const asked = [other.cid, unknown.cid, root!.cid, child!.cid];
        const bytes = await b.getCommits(ledger, asked);
        expect(bytes).toHaveLength(4);
        expectBytes(bytes[0], other.bytes);
        expect(bytes[1]).toBeUndefined();
        expectBytes(bytes[2], root!.bytes);
        expectBytes(bytes[3], child!.bytes);
        const metas = await b.getMeta(ledger, asked);
        expect(metas).toHaveLength(4);
        expect(metas[1]).toBeUndefined();
        expect(metaText(metas[0])).toEqual({
          parents: texts([root!]),
          height: 2,
        });
        expect(metaText(metas[2])).toEqual({ parents: [], height: 1 });
        expect(metaText(metas[3])).toEqual({
          parents: texts([root!]),
          height: 2,
        });
        expect(await b.getCommits(ledger, [])).toEqual([]);
        expect(await b.getMeta(ledger, [])).toEqual([]);
      });

      it("computes height as 1 + the greatest parent height", async () => {
        const b = await openTracked();
        const ledger = fresh("height");
        const long = await makeTestChain(5);
        const short = await makeTestChain(2);
        const merge = await makeTestCommit([short[1]!.cid, long[4]!.cid]);
        await b.putCommits(ledger, [...long, ...short, merge]);
        const [meta] = await b.getMeta(ledger, [merge.cid]);
        expect(meta?.height).toBe(6);
      });

      it("returns undefined for an unknown ledger or commit", async () => {
        const b = await openTracked();
        const c = await makeTestCommit();
        const ledger = fresh("unknown");
        expect(await b.getCommits(ledger, [c.cid])).toEqual([undefined]);
        expect(await b.getMeta(ledger, [c.cid])).toEqual([undefined]);
        expect(await b.getHeads(ledger)).toEqual([]);
      });

      it("skips commits it holds: a repeated put adds nothing", async () => {
        const b = await openTracked();
        const ledger = fresh("idempotent");
        const [a, c] = await makeTestChain(2);
        const first = await b.putCommits(ledger, [a!]);
        expect(texts(first.added)).toEqual(texts([a!]));
        const again = await b.putCommits(ledger, [a!]);
        expect(again.added).toEqual([]);
        expect(texts(again.heads)).toEqual(texts([a!]));
        // Held commits in a batch are skipped, new ones after them stored.
        const mixed = await b.putCommits(ledger, [a!, c!, c!]);
        expect(texts(mixed.added)).toEqual(texts([c!]));
        const both = await Promise.all([
          b.putCommits(ledger, [c!]),
          b.putCommits(ledger, [a!, c!]),
        ]);
        expect(both.map((r) => r.added)).toEqual([[], []]);
        expect(texts(await b.getHeads(ledger))).toEqual(texts([c!]));
      });

      it("is not changed by later writes to the caller's buffer or to a returned buffer", async () => {
        const b = await openTracked();
        const ledger = fresh("alias");
        const c = await makeTestCommit();
        const kept = c.bytes.slice();
        await b.putCommits(ledger, [c]);
        c.bytes.fill(0);
        const [first] = await b.getCommits(ledger, [c.cid]);
        first?.fill(0);
        expectBytes((await b.getCommits(ledger, [c.cid]))[0], kept);
        // Node's Buffer is a Uint8Array whose slice() is a view, not a copy.
        const d = await makeTestCommit();
        const buffer = new ViewSlicingBytes(new ArrayBuffer(d.bytes.length));
        buffer.set(d.bytes);
        const put = b.putCommits(ledger, [{ ...d, bytes: buffer }]);
        buffer.fill(0);
        await put;
        expectBytes((await b.getCommits(ledger, [d.cid]))[0], d.bytes);
      });

      it("rejects names that are not ledger names: empty, *, too long, malformed Unicode, U+FFFD", async () => {
        const b = await openTracked();
        for (const name of [
          "",
          "*",
          "x".repeat(513),
          "\uD800x",
          "\uDC00x",
          "\uFFFDx",
        ]) {
          await expect(b.getHeads(name), name).rejects.toBeInstanceOf(
            KilnError,
          );
          await expect(
            b.putCommits(name, [await makeTestCommit()]),
            name,
          ).rejects.toBeInstanceOf(KilnError);
        }
      });
    });

    section("all-or-nothing", () => {
      it("stores nothing of a batch with a missing parent", async () => {
        const b = await openTracked();
        const ledger = fresh("missing-parent");
        const [root] = await makeTestChain(1);
        await b.putCommits(ledger, [root!]);
        const absent = await makeTestCommit();
        const good = await makeTestCommit([root!.cid]);
        const orphan = await makeTestCommit([absent.cid]);
        const seen = recordChanges(b, ledger);
        const attempt = b.putCommits(ledger, [good, orphan]);
        await expect(attempt).rejects.toBeInstanceOf(ProtocolError);
        await expect(attempt).rejects.toMatchObject({
          code: "protocol",
          reason: "missing-commit",
        });
        expect(await b.getCommits(ledger, [good.cid, orphan.cid])).toEqual([
          undefined,
          undefined,
        ]);
        expect(texts(await b.getHeads(ledger))).toEqual(texts([root!]));
        expect(seen.all).toEqual([]);
        seen.stop();
      });

      it("refuses a child given before its parent", async () => {
        const b = await openTracked();
        const ledger = fresh("order");
        const [a, c] = await makeTestChain(2);
        await expect(b.putCommits(ledger, [c!, a!])).rejects.toMatchObject({
          reason: "missing-commit",
        });
        expect(await b.getHeads(ledger)).toEqual([]);
        expect(await b.getCommits(ledger, [a!.cid])).toEqual([undefined]);
      });
    });

    section("heads", () => {
      it("moves heads forward through branches and merges", async () => {
        const b = await openTracked();
        const ledger = fresh("heads");
        const [root] = await makeTestChain(1);
        const left = await makeTestCommit([root!.cid]);
        const right = await makeTestCommit([root!.cid]);
        expect(texts((await b.putCommits(ledger, [root!])).heads)).toEqual(
          texts([root!]),
        );
        expect(texts((await b.putCommits(ledger, [left])).heads)).toEqual(
          sorted([left]),
        );
        // A concurrent branch off the same parent: both are heads.
        expect(texts((await b.putCommits(ledger, [right])).heads)).toEqual(
          sorted([left, right]),
        );
        // A late commit off an old ancestor adds a head and removes none.
        const late = await makeTestCommit([root!.cid]);
        expect(texts((await b.putCommits(ledger, [late])).heads)).toEqual(
          sorted([left, right, late]),
        );
        const merge = await makeTestCommit([left.cid, right.cid]);
        expect(texts((await b.putCommits(ledger, [merge])).heads)).toEqual(
          sorted([merge, late]),
        );
        const final = await makeTestCommit([merge.cid, late.cid]);
        await b.putCommits(ledger, [final]);
        expect(texts(await b.getHeads(ledger))).toEqual(texts([final]));
      });

      it("refuses, storing nothing, a put that would grow the head set past MAX_HEADS", async () => {
        const b = await openTracked();
        const ledger = fresh("max-heads");
        const roots: StoredCommit[] = [];
        for (let i = 0; i < MAX_HEADS; i++)
          roots.push(await makeTestCommit([], 64));
        expect((await b.putCommits(ledger, roots)).heads).toHaveLength(
          MAX_HEADS,
        );
        const extra = await makeTestCommit([], 64);
        await expect(b.putCommits(ledger, [extra])).rejects.toMatchObject({
          code: "protocol",
          reason: "too-many-heads",
        });
        expect(await b.getCommits(ledger, [extra.cid])).toEqual([undefined]);
        expect(await b.getHeads(ledger)).toHaveLength(MAX_HEADS);
        // A commit that replaces a head keeps the count, and a merge lowers it.
        const child = await makeTestCommit([roots[0]!.cid], 64);
        const merge = await makeTestCommit([roots[1]!.cid, roots[2]!.cid], 64);
        await b.putCommits(ledger, [child, merge]);
        expect(await b.getHeads(ledger)).toHaveLength(MAX_HEADS - 1);
      });

      it("keeps only the batch's tips as heads and sorts them by cid string", async () => {
        const b = await openTracked();
        const ledger = fresh("sorted");
        const [root] = await makeTestChain(1);
        const tips: StoredCommit[] = [];
        const batch: StoredCommit[] = [root!];
        for (let i = 0; i < 8; i++) {
          const [mid, tip] = await makeTestChain(2, [root!.cid]);
          batch.push(mid!, tip!);
          tips.push(tip!);
        }
        const result = await b.putCommits(ledger, batch);
        expect(texts(result.heads)).toEqual(sorted(tips));
        expect(texts(await b.getHeads(ledger))).toEqual(sorted(tips));
      });
    });

    section("isolation", () => {
      it("keeps the commits and heads of separate ledgers apart", async () => {
        const b = await openTracked();
        const one = fresh("one");
        const two = fresh("two");
        const [c] = await makeTestChain(1);
        await b.putCommits(one, [c!]);
        expect(await b.getCommits(two, [c!.cid])).toEqual([undefined]);
        expect(await b.getMeta(two, [c!.cid])).toEqual([undefined]);
        expect(await b.getHeads(two)).toEqual([]);
        // A parent held by another ledger does not count.
        const child = await makeTestCommit([c!.cid]);
        await expect(b.putCommits(two, [child])).rejects.toMatchObject({
          reason: "missing-commit",
        });
      });

      it("keeps ledgers with awkward names apart", async () => {
        // Names that would escape or collide as naive file names or keys.
        const names = [
          ".",
          "..",
          "a/b",
          "a%2Fb",
          "a\\b",
          " ",
          "*x",
          "A",
          "ünï 😀",
          "a".repeat(120),
          "é".repeat(512 - run.length - 1),
          "é".repeat(511 - run.length - 1) + "e",
        ].map((n) => `${run}-${n}`);
        const b = await openTracked();
        const written = new Map<string, StoredCommit>();
        for (const ledger of names) {
          const c = await makeTestCommit();
          await b.putCommits(ledger, [c]);
          written.set(ledger, c);
        }
        for (const [ledger, c] of written) {
          expect(texts(await b.getHeads(ledger))).toEqual(texts([c]));
          for (const [other, o] of written) {
            if (other === ledger) continue;
            expect(
              (await b.getCommits(ledger, [o.cid]))[0],
              `${JSON.stringify(other)} leaked into ${JSON.stringify(ledger)}`,
            ).toBeUndefined();
          }
        }
      });
    });

    section("watch", () => {
      it("reports each change with heads, added in order, bytes and origin, on its ledger only", async () => {
        const b = await openTracked();
        const ledger = fresh("watched");
        const elsewhere = fresh("unwatched");
        const seen = recordChanges(b, ledger);
        const [a, c, d] = await makeTestChain(3);
        await b.putCommits(elsewhere, [await makeTestCommit()]);
        await b.putCommits(ledger, [a!, c!], "first");
        await b.putCommits(ledger, [a!, c!, d!], { client: 2 });
        await b.putCommits(ledger, [a!]); // nothing new: no change
        await seen.until((all) => all.length >= 2, "two changes");
        expect(seen.all).toHaveLength(2);
        const [first, second] = seen.all as [LedgerChange, LedgerChange];
        expect(texts(first.added)).toEqual(texts([a!, c!]));
        expect(texts(first.heads)).toEqual(texts([c!]));
        expect(texts(second.added)).toEqual(texts([d!]));
        expect(texts(second.heads)).toEqual(texts([d!]));
        // Bytes and origin are optional (a change made by another process has neither),
        // but when present they must be right.
        if (first.commits) {
          expect(texts(first.commits.map((x) => x.cid))).toEqual(
            texts([a!, c!]),
          );
          expectBytes(first.commits[1]?.bytes, c!.bytes);
          expect(texts(first.commits[1]?.parents ?? [])).toEqual(texts([a!]));
        }
        if ("origin" in first) expect(first.origin).toBe("first");
        if ("origin" in second) expect(second.origin).toEqual({ client: 2 });
        seen.stop();
      });

      it("stops reporting to a watcher after it unsubscribes", async () => {
        const b = await openTracked();
        const ledger = fresh("unsubscribe");
        const stopped = recordChanges(b, ledger);
        const still = recordChanges(b, ledger);
        const again = recordChanges(b, ledger);
        stopped.stop();
        again.stop();
        again.stop(); // twice is harmless
        const c = await makeTestCommit();
        await b.putCommits(ledger, [c]);
        await still.until((all) => all.length > 0, "the change");
        expect(stopped.all).toEqual([]);
        expect(again.all).toEqual([]);
        still.stop();
      });
    });

    section("concurrency", () => {
      it("loses no head when many puts of one ledger run at once", async () => {
        const b = await openTracked();
        const ledger = fresh("hammer");
        const [root] = await makeTestChain(1);
        await b.putCommits(ledger, [root!]);
        const branches = await Promise.all(
          Array.from({ length: 64 }, () => makeTestChain(3, [root!.cid], 256)),
        );
        // Each branch goes in as three puts issued back to back, none awaited.
        const results = await Promise.all(
          branches.flatMap((chain) =>
            chain.map((c, i) => b.putCommits(ledger, chain.slice(0, i + 1))),
          ),
        );
        const tips = branches.map((chain) => chain[2]!);
        expect(texts(await b.getHeads(ledger))).toEqual(sorted(tips));
        // Every commit was added by exactly one put.
        const added = results.flatMap((r) => texts(r.added)).sort();
        expect(added).toEqual(sorted(branches.flat()));
      });

      it("stores a commit put by concurrent puts once", async () => {
        const b = await openTracked();
        const ledger = fresh("same");
        const c = await makeTestCommit();
        const results = await Promise.all(
          Array.from({ length: 10 }, () => b.putCommits(ledger, [c])),
        );
        expect(results.flatMap((r) => texts(r.added))).toEqual(texts([c]));
        expect(texts(await b.getHeads(ledger))).toEqual(texts([c]));
      });
    });

    section("revocation", () => {
      it("records a revoked token id, tells its watchers, and keeps it", async () => {
        const b = await openTracked();
        const id = fresh("jti").replace(/[^A-Za-z0-9_-]/g, "_");
        const heard = new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error("no revocation heard")),
            watchTimeoutMs,
          );
          const stop = b.watchRevocations((revoked) => {
            if (revoked !== id) return;
            clearTimeout(timer);
            stop();
            resolve(revoked);
          });
        });
        expect(await b.revokedTokens()).not.toContain(id);
        await b.revokeToken(id);
        expect(await heard).toBe(id);
        expect(await b.revokedTokens()).toContain(id);
        await b.revokeToken(id); // twice is harmless
        expect((await b.revokedTokens()).filter((r) => r === id)).toHaveLength(
          1,
        );
        for (const bad of ["", "a b", "x".repeat(129), "é"])
          await expect(b.revokeToken(bad), bad).rejects.toMatchObject({
            code: "invalid-argument",
          });
        const reopenRevoked = options.reopen;
        if (reopenRevoked) {
          opened.splice(opened.indexOf(b), 1);
          await b.close();
          const again = await reopenRevoked(b);
          opened.push(again);
          expect(await again.revokedTokens()).toContain(id);
        }
      });
    });

    section("close", () => {
      it("finishes puts issued before close, then rejects every call", async () => {
        const b = await open();
        const ledger = fresh("closed");
        const c = await makeTestCommit();
        const put = b.putCommits(ledger, [c]);
        await b.close();
        expect(texts((await put).heads)).toEqual(texts([c]));
        const calls: [string, () => Promise<unknown>][] = [
          ["putCommits", () => b.putCommits(ledger, [c])],
          ["getCommits", () => b.getCommits(ledger, [c.cid])],
          ["getMeta", () => b.getMeta(ledger, [c.cid])],
          ["getHeads", () => b.getHeads(ledger)],
          ["revokeToken", () => b.revokeToken("some-id")],
        ];
        for (const [method, call] of calls)
          await expect(call(), method).rejects.toBeInstanceOf(ClosedError);
        expect(() => b.watch(ledger, () => undefined)).toThrow(ClosedError);
        await b.close(); // twice is harmless
      });
    });

    section("snapshots", () => {
      it("keeps one snapshot per ledger, replaced by the next put, apart from commits and other ledgers", async () => {
        const b = await openTracked();
        const ledger = fresh("snapshots");
        const other = fresh("snapshots-other");
        expect(await b.getSnapshot(ledger)).toBeUndefined();
        const chain = await makeTestChain(3);
        await b.putCommits(ledger, chain);
        const first = await makeTestCommit([chain[1]!.cid], 300);
        const given = new Uint8Array(first.bytes);
        await b.putSnapshot(ledger, {
          cid: first.cid,
          bytes: given,
          heads: [chain[1]!.cid],
          height: 2,
        });
        given.fill(0); // the caller's buffer is not what is kept
        const held = await b.getSnapshot(ledger);
        expect(held?.cid.toString()).toBe(first.cid.toString());
        expectBytes(held?.bytes, first.bytes);
        expect(texts(held?.heads ?? [])).toEqual(texts([chain[1]!.cid]));
        expect(held?.height).toBe(2);
        held!.bytes.fill(0); // nor a returned one
        expectBytes((await b.getSnapshot(ledger))?.bytes, first.bytes);
        expect(await b.getSnapshot(other)).toBeUndefined();
        // Commits and heads are untouched by a snapshot.
        expect(texts(await b.getHeads(ledger))).toEqual(texts([chain[2]!]));

        const next = await makeTestCommit([chain[2]!.cid, chain[0]!.cid]);
        await b.putSnapshot(ledger, {
          cid: next.cid,
          bytes: next.bytes,
          heads: [chain[2]!.cid, chain[0]!.cid],
          height: 3,
        });
        const replaced = await b.getSnapshot(ledger);
        expect(replaced?.cid.toString()).toBe(next.cid.toString());
        expect(texts(replaced?.heads ?? [])).toEqual(
          texts([chain[2]!.cid, chain[0]!.cid]),
        );
        expectBytes(replaced?.bytes, next.bytes);
      });

      if (options.reopen) {
        const reopenSnapshot = options.reopen;
        it("keeps the snapshot across close and reopen", async () => {
          const b = await open();
          const ledger = fresh("snapshots-reopen");
          const [root] = await makeTestChain(1);
          await b.putCommits(ledger, [root!]);
          const snap = await makeTestCommit([root!.cid], 500);
          await b.putSnapshot(ledger, {
            cid: snap.cid,
            bytes: snap.bytes,
            heads: [root!.cid],
            height: 1,
          });
          await b.close();
          const again = await reopenSnapshot(b);
          opened.push(again);
          const held = await again.getSnapshot(ledger);
          expect(held?.cid.toString()).toBe(snap.cid.toString());
          expectBytes(held?.bytes, snap.bytes);
          expect(held?.height).toBe(1);
        });
      }
    });

    section("delete", () => {
      it("deletes every commit, head and snapshot of one ledger, and nothing of another", async () => {
        const b = await openTracked();
        const ledger = fresh("delete");
        const other = fresh("delete-other");
        const chain = await makeTestChain(3, [], 300);
        const kept = await makeTestChain(2);
        await b.putCommits(ledger, chain);
        await b.putCommits(other, kept);
        const snap = await makeTestCommit([chain[2]!.cid], 400);
        await b.putSnapshot(ledger, {
          cid: snap.cid,
          bytes: snap.bytes,
          heads: [chain[2]!.cid],
          height: 3,
        });
        if (options.leftovers)
          expect(
            await options.leftovers(b, ledger, cids(chain)),
            "the check sees what a ledger leaves",
          ).not.toEqual([]);
        await b.deleteLedger(ledger);
        expect(await b.getHeads(ledger)).toEqual([]);
        expect(await b.getCommits(ledger, cids(chain))).toEqual(
          chain.map(() => undefined),
        );
        expect(await b.getMeta(ledger, cids(chain))).toEqual(
          chain.map(() => undefined),
        );
        expect(await b.getSnapshot(ledger)).toBeUndefined();
        if (options.leftovers)
          expect(await options.leftovers(b, ledger, cids(chain))).toEqual([]);
        // The other ledger is untouched, and the name can be used again.
        expect(texts(await b.getHeads(other))).toEqual(texts([kept[1]!]));
        await b.deleteLedger(ledger); // again: a no-op
        await b.putCommits(ledger, [chain[0]!]);
        expect(texts(await b.getHeads(ledger))).toEqual(texts([chain[0]!]));
      });
    });

    section("drop", () =>
      dropCase({
        openTracked,
        fresh,
        track: (b) => opened.push(b),
        ...(options.storedBytes ? { storedBytes: options.storedBytes } : {}),
        ...(options.reopen ? { reopen: options.reopen } : {}),
      }),
    );

    const reopen = options.reopen;
    if (reopen)
      section("reopen", () => {
        it("keeps commits, meta and heads across close and reopen", async () => {
          const b = await open();
          const ledger = fresh("reopen");
          const [root] = await makeTestChain(1);
          const left = await makeTestChain(3, [root!.cid]);
          const right = await makeTestChain(2, [root!.cid]);
          await b.putCommits(ledger, [root!, ...left]);
          await b.putCommits(ledger, right);
          const all = [root!, ...left, ...right];
          const heads = texts(await b.getHeads(ledger));
          const metas = (await b.getMeta(ledger, cids(all))).map(metaText);
          await b.close();
          const again = await reopen(b);
          opened.push(again);
          expect(texts(await again.getHeads(ledger))).toEqual(heads);
          expect(
            (await again.getMeta(ledger, cids(all))).map(metaText),
          ).toEqual(metas);
          const bytes = await again.getCommits(ledger, cids(all));
          all.forEach((c, i) => expectBytes(bytes[i], c.bytes));
          // It goes on working: a merge on top of what was reopened.
          const merge = await makeTestCommit([left[2]!.cid, right[1]!.cid]);
          await again.putCommits(ledger, [merge]);
          expect(texts(await again.getHeads(ledger))).toEqual(texts([merge]));
        });
      });
  });

  function recordChanges(
    b: Backend,
    ledger: string,
  ): {
    all: LedgerChange[];
    stop(): void;
    until(match: (all: LedgerChange[]) => boolean, what: string): Promise<void>;
  } {
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
}

class ViewSlicingBytes extends Uint8Array<ArrayBuffer> {
  override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
    return this.subarray(start, end);
  }
}

function cids(commits: readonly StoredCommit[]): CID[] {
  return commits.map((c) => c.cid);
}

function texts(items: readonly (CID | StoredCommit)[]): string[] {
  return items.map((x) => (isStoredCommit(x) ? x.cid : x).toString());
}

function isStoredCommit(x: CID | StoredCommit): x is StoredCommit {
  return "parents" in x;
}

function sorted(commits: readonly StoredCommit[]): string[] {
  return texts(commits).sort();
}

function metaText(
  meta: { parents: readonly CID[]; height: number } | undefined,
): { parents: string[]; height: number } | undefined {
  return meta && { parents: texts(meta.parents), height: meta.height };
}

function expectBytes(
  actual: Uint8Array | undefined,
  expected: Uint8Array,
): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual?.length).toBe(expected.length);
  expect(equalBytes(actual!, expected), "bytes differ").toBe(true);
}
