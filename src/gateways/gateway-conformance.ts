// The behaviour every Gateway must show, as a vitest suite a third party runs in ten lines:
//
//   import { describeGatewayConformance } from "kiln/conformance";
//   describeGatewayConformance("s3", () => s3Gateway.open(s3Gateway.parse(new URL(url))), {
//     openSibling: (first) => s3Gateway.open(s3Gateway.parse(new URL(first.url))),
//   });
//
// It touches the gateway only through the Gateway interface, uses fresh random commits and
// fresh ledger names, and asserts only on what it wrote, so it also runs against a store
// that already holds data (a long-lived remote). It imports nothing from Node, so a browser
// gateway can run it under a browser test runner.
import { sha256 } from "multiformats/hashes/sha2";
import { afterEach, describe, expect, it } from "vitest";
import { CID, DAG_CBOR } from "../blocks/cid.js";
import { equalBytes } from "../util/bytes.js";
import { ClosedError, KilnError } from "../util/errors.js";
import type { Gateway, HeadSet } from "./gateway.js";

export type GatewayConformanceCase =
  | "commits"
  | "heads"
  | "missing-commit"
  | "isolation"
  | "concurrency"
  | "close"
  | "watch"
  | "local";

export interface GatewayConformanceOptions {
  /**
   * Opens a second handle onto the store `first` uses (the same room, folder or server).
   * Enables the watch cases and the two-writer concurrency case.
   */
  openSibling?: (first: Gateway) => Promise<Gateway>;
  /**
   * Cases the gateway does not run, each with the reason (write it down where the gateway is
   * documented). They are not registered at all: a run never reports a skipped assertion.
   */
  skip?: Partial<Record<GatewayConformanceCase, string>>;
  /** How long a watch case waits for a notification before failing (default 5000 ms). */
  watchTimeoutMs?: number;
}

interface TestCommit {
  readonly cid: CID;
  readonly bytes: Uint8Array;
}

export function describeGatewayConformance(
  name: string,
  open: () => Promise<Gateway>,
  options: GatewayConformanceOptions = {},
): void {
  const run = globalThis.crypto.randomUUID().slice(0, 8);
  let counter = 0;
  const fresh = (label: string): string =>
    `conformance-${run}-${label}-${++counter}`;
  const opened: Gateway[] = [];
  const track = (g: Gateway): Gateway => {
    opened.push(g);
    return g;
  };
  const openTracked = async (): Promise<Gateway> => track(await open());
  const openSibling = options.openSibling;
  const watchTimeoutMs = options.watchTimeoutMs ?? 5000;
  // Cases that need two handles on one store exist only when the gateway can open a second.
  const itWithSibling = (title: string, fn: () => Promise<void>): void => {
    if (openSibling) it(title, fn);
  };

  const section = (kase: GatewayConformanceCase, body: () => void): void => {
    if (options.skip?.[kase] === undefined) describe(kase, body);
  };

  describe(`gateway conformance: ${name}`, () => {
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((g) => g.close()));
    });

    section("commits", () => {
      it("stores a commit and returns its bytes", async () => {
        const g = await openTracked();
        const ledger = fresh("commit");
        for (const size of [0, 1, 3000, 1 << 20]) {
          const c = await makeCommit(size);
          await g.putCommit(ledger, c.cid, c.bytes);
          expectBytes(await g.getCommit(ledger, c.cid), c.bytes);
        }
      });

      it("returns undefined for a commit it does not hold", async () => {
        const g = await openTracked();
        const c = await makeCommit();
        expect(await g.getCommit(fresh("missing"), c.cid)).toBeUndefined();
      });

      it("treats putting the same commit again as a no-op", async () => {
        const g = await openTracked();
        const ledger = fresh("idempotent");
        const c = await makeCommit();
        await g.putCommit(ledger, c.cid, c.bytes);
        await g.putCommit(ledger, c.cid, c.bytes);
        await Promise.all([
          g.putCommit(ledger, c.cid, c.bytes),
          g.putCommit(ledger, c.cid, c.bytes),
        ]);
        expectBytes(await g.getCommit(ledger, c.cid), c.bytes);
        if (g.local)
          expect(cidStrings(await g.local.listCommits(ledger))).toEqual([
            c.cid.toString(),
          ]);
      });

      it("is not changed by later writes to the caller's buffer or to a returned buffer", async () => {
        const g = await openTracked();
        const ledger = fresh("alias");
        const c = await makeCommit(64);
        const mine = c.bytes.slice();
        await g.putCommit(ledger, c.cid, mine);
        mine.fill(0);
        const first = await g.getCommit(ledger, c.cid);
        first?.fill(0);
        expectBytes(await g.getCommit(ledger, c.cid), c.bytes);
        // Node's Buffer is a Uint8Array whose slice() is a view, not a copy.
        const d = await makeCommit(64);
        const buffer = new ViewSlicingBytes(new ArrayBuffer(d.bytes.length));
        buffer.set(d.bytes);
        const put = g.putCommit(ledger, d.cid, buffer);
        buffer.fill(0);
        await put;
        expectBytes(await g.getCommit(ledger, d.cid), d.bytes);
      });
    });

    section("heads", () => {
      it("starts a new ledger with no heads", async () => {
        const g = await openTracked();
        expect(await g.getHeads(fresh("empty"))).toEqual([]);
      });

      it("applies next = (current \\ remove) ∪ add", async () => {
        const g = await openTracked();
        const ledger = fresh("merge");
        const [a, b, c, d] = await putCommits(g, ledger, 4);
        expect(
          cidStrings(
            await g.putHeads(ledger, { add: [a.cid, b.cid], remove: [] }),
          ),
        ).toEqual(sorted([a, b]));
        // c supersedes a; d arrives concurrently and supersedes nothing.
        expect(
          cidStrings(
            await g.putHeads(ledger, { add: [c.cid], remove: [a.cid] }),
          ),
        ).toEqual(sorted([b, c]));
        expect(
          cidStrings(await g.putHeads(ledger, { add: [d.cid], remove: [] })),
        ).toEqual(sorted([b, c, d]));
        // Removing what is not a head changes nothing; re-adding a head changes nothing.
        expect(
          cidStrings(await g.putHeads(ledger, { add: [], remove: [a.cid] })),
        ).toEqual(sorted([b, c, d]));
        expect(
          cidStrings(await g.putHeads(ledger, { add: [b.cid], remove: [] })),
        ).toEqual(sorted([b, c, d]));
        // A CID both removed and added is in the result: add is applied last.
        expect(
          cidStrings(
            await g.putHeads(ledger, {
              add: [b.cid],
              remove: [b.cid, c.cid, d.cid],
            }),
          ),
        ).toEqual(sorted([b]));
        expect(cidStrings(await g.getHeads(ledger))).toEqual(sorted([b]));
      });

      it("returns heads sorted by cid string whatever the order of the update", async () => {
        const commits = await makeCommits(6);
        const results: string[][] = [];
        for (const order of [
          commits,
          [...commits].reverse(),
          [
            commits[3]!,
            commits[0]!,
            commits[5]!,
            commits[1]!,
            commits[4]!,
            commits[2]!,
          ],
        ]) {
          const g = await openTracked();
          const ledger = fresh("order");
          for (const c of order) await g.putCommit(ledger, c.cid, c.bytes);
          await g.putHeads(ledger, {
            add: order.slice(0, 3).map((c) => c.cid),
            remove: [],
          });
          results.push(
            cidStrings(
              await g.putHeads(ledger, {
                add: order.slice(3).map((c) => c.cid),
                remove: [],
              }),
            ),
          );
          expect(cidStrings(await g.getHeads(ledger))).toEqual(results.at(-1));
        }
        expect(results[0]).toEqual(sorted(commits));
        expect(results[1]).toEqual(results[0]);
        expect(results[2]).toEqual(results[0]);
      });

      it("accepts duplicate CIDs in an update", async () => {
        const g = await openTracked();
        const ledger = fresh("dup");
        const [a] = await putCommits(g, ledger, 1);
        expect(
          cidStrings(
            await g.putHeads(ledger, {
              add: [a.cid, a.cid],
              remove: [a.cid, a.cid],
            }),
          ),
        ).toEqual([a.cid.toString()]);
      });
    });

    section("missing-commit", () => {
      it("rejects heads naming a commit it does not hold, with heads unchanged", async () => {
        const g = await openTracked();
        const ledger = fresh("missing-head");
        const [held] = await putCommits(g, ledger, 1);
        await g.putHeads(ledger, { add: [held.cid], remove: [] });
        const absent = await makeCommit();
        const attempt = g.putHeads(ledger, {
          add: [absent.cid],
          remove: [held.cid],
        });
        await expect(attempt).rejects.toBeInstanceOf(KilnError);
        await expect(attempt).rejects.toMatchObject({ code: "missing-commit" });
        expect(cidStrings(await g.getHeads(ledger))).toEqual([
          held.cid.toString(),
        ]);
        // All or nothing: a held CID beside a missing one is not applied either.
        const [other] = await putCommits(g, ledger, 1);
        await expect(
          g.putHeads(ledger, { add: [other.cid, absent.cid], remove: [] }),
        ).rejects.toMatchObject({ code: "missing-commit" });
        expect(cidStrings(await g.getHeads(ledger))).toEqual([
          held.cid.toString(),
        ]);
      });

      it("sees a commit put just before, without awaiting it", async () => {
        // The ledger's write path: putCommit and putHeads back to back in one tick.
        const g = await openTracked();
        const ledger = fresh("back-to-back");
        const c = await makeCommit();
        const put = g.putCommit(ledger, c.cid, c.bytes);
        const heads = g.putHeads(ledger, { add: [c.cid], remove: [] });
        await put;
        expect(cidStrings(await heads)).toEqual([c.cid.toString()]);
      });
    });

    section("isolation", () => {
      it("keeps the commits and heads of separate ledgers apart", async () => {
        const g = await openTracked();
        const one = fresh("one");
        const two = fresh("two");
        const [c] = await putCommits(g, one, 1);
        await g.putHeads(one, { add: [c.cid], remove: [] });
        expect(await g.getCommit(two, c.cid)).toBeUndefined();
        expect(await g.getHeads(two)).toEqual([]);
        await expect(
          g.putHeads(two, { add: [c.cid], remove: [] }),
        ).rejects.toMatchObject({ code: "missing-commit" });
      });

      it("keeps ledgers with awkward names apart", async () => {
        // Names that would escape or collide as naive file names or keys. These are fixed
        // names (the point is the exact strings), so assertions are relative to what the
        // test writes.
        const names = [
          ".",
          "..",
          "a/b",
          "a%2Fb",
          "a\\b",
          " ",
          "*.*",
          "ünï 😀",
          "a".repeat(120),
        ];
        const g = await openTracked();
        const written = new Map<string, TestCommit>();
        for (const ledger of names) {
          const [c] = await putCommits(g, ledger, 1);
          await g.putHeads(ledger, { add: [c.cid], remove: [] });
          written.set(ledger, c);
        }
        for (const [ledger, c] of written) {
          expect((await g.getHeads(ledger)).map(String)).toContain(
            c.cid.toString(),
          );
          for (const [other, o] of written) {
            if (other === ledger) continue;
            expect(
              await g.getCommit(ledger, o.cid),
              `${JSON.stringify(other)} leaked into ${JSON.stringify(ledger)}`,
            ).toBeUndefined();
          }
        }
      });

      it("rejects an empty ledger name", async () => {
        const g = await openTracked();
        await expect(g.getHeads("")).rejects.toBeInstanceOf(KilnError);
      });
    });

    section("concurrency", () => {
      it("loses nothing from many parallel writers", async () => {
        const g = await openTracked();
        const ledger = fresh("parallel");
        const commits = await makeCommits(200);
        const first = commits
          .slice(0, 100)
          .flatMap((c) => [
            g.putCommit(ledger, c.cid, c.bytes),
            g.putHeads(ledger, { add: [c.cid], remove: [] }),
          ]);
        // The rest arrive a tick later, while the first batch may still be in flight.
        await Promise.resolve();
        const second = commits
          .slice(100)
          .flatMap((c) => [
            g.putCommit(ledger, c.cid, c.bytes),
            g.putHeads(ledger, { add: [c.cid], remove: [] }),
          ]);
        await Promise.all([...first, ...second]);
        expect(cidStrings(await g.getHeads(ledger))).toEqual(sorted(commits));
        for (const c of commits)
          expectBytes(await g.getCommit(ledger, c.cid), c.bytes);
      });

      it("applies unawaited updates in call order", async () => {
        const g = await openTracked();
        const ledger = fresh("chain");
        const commits = await makeCommits(50);
        const puts: Promise<void>[] = [];
        const results = commits.map((c, i) => {
          puts.push(g.putCommit(ledger, c.cid, c.bytes));
          const previous = commits[i - 1];
          return g.putHeads(ledger, {
            add: [c.cid],
            remove: previous ? [previous.cid] : [],
          });
        });
        const [heads] = await Promise.all([
          Promise.all(results),
          Promise.all(puts),
        ]);
        heads.forEach((h, i) =>
          expect(cidStrings(h)).toEqual([commits[i]!.cid.toString()]),
        );
        expect(cidStrings(await g.getHeads(ledger))).toEqual([
          commits.at(-1)!.cid.toString(),
        ]);
      });

      itWithSibling(
        "loses nothing from two handles writing at once",
        async () => {
          const a = await openTracked();
          const b = track(await openSibling!(a));
          const ledger = fresh("two-writers");
          const commits = await makeCommits(100);
          await Promise.all(
            commits.flatMap((c, i) => {
              const g = i % 2 === 0 ? a : b;
              return [
                g.putCommit(ledger, c.cid, c.bytes),
                g.putHeads(ledger, { add: [c.cid], remove: [] }),
              ];
            }),
          );
          expect(cidStrings(await a.getHeads(ledger))).toEqual(sorted(commits));
          expect(cidStrings(await b.getHeads(ledger))).toEqual(sorted(commits));
          for (const c of commits)
            expectBytes(await b.getCommit(ledger, c.cid), c.bytes);
        },
      );
    });

    section("close", () => {
      it("rejects every call after close with ClosedError", async () => {
        const g = await open();
        const ledger = fresh("closed");
        const [c] = await putCommits(g, ledger, 1);
        await g.close();
        const calls: [string, () => Promise<unknown>][] = [
          ["putCommit", () => g.putCommit(ledger, c.cid, c.bytes)],
          ["getCommit", () => g.getCommit(ledger, c.cid)],
          ["getHeads", () => g.getHeads(ledger)],
          ["putHeads", () => g.putHeads(ledger, { add: [c.cid], remove: [] })],
        ];
        const local = g.local;
        if (local) {
          calls.push(
            ["getWriterKey", () => local.getWriterKey()],
            ["putWriterKey", () => local.putWriterKey("w")],
            ["getKey", () => local.getKey(ledger)],
            ["putKey", () => local.putKey(ledger, "k")],
            ["getCheckpoint", () => local.getCheckpoint(ledger)],
            [
              "putCheckpoint",
              () => local.putCheckpoint(ledger, new Uint8Array(1)),
            ],
            ["listCommits", () => local.listCommits(ledger)],
            ["retainCommits", () => local.retainCommits(ledger, new Set())],
            ["sizeOf", () => local.sizeOf(ledger)],
            ["destroy", () => local.destroy(ledger)],
          );
        }
        for (const [method, call] of calls)
          await expect(call(), method).rejects.toBeInstanceOf(ClosedError);
        if (g.watch)
          expect(() => g.watch?.(ledger, () => undefined)).toThrow(ClosedError);
      });

      it("closes twice without error", async () => {
        const g = await open();
        await g.close();
        await g.close();
      });

      it("finishes writes issued before close", async () => {
        const g = await open();
        const ledger = fresh("flush-on-close");
        const c = await makeCommit();
        const settled = Promise.allSettled([
          g.putCommit(ledger, c.cid, c.bytes),
          g.putHeads(ledger, { add: [c.cid], remove: [] }),
        ]);
        await g.close();
        const [put, heads] = await settled;
        expect(put?.status).toBe("fulfilled");
        expect(heads?.status).toBe("fulfilled");
        if (heads?.status === "fulfilled")
          expect(cidStrings(heads.value)).toEqual([c.cid.toString()]);
      });

      itWithSibling(
        "leaves a sibling handle working when one closes",
        async () => {
          const a = await open();
          const b = track(await openSibling!(a));
          const ledger = fresh("sibling-close");
          const [c] = await putCommits(a, ledger, 1);
          await a.close();
          expectBytes(await b.getCommit(ledger, c.cid), c.bytes);
          const [d] = await putCommits(b, ledger, 1);
          expect(
            cidStrings(await b.putHeads(ledger, { add: [d.cid], remove: [] })),
          ).toEqual([d.cid.toString()]);
        },
      );
    });

    // Watching needs a second writer: without a sibling handle there is nothing to watch.
    if (openSibling)
      section("watch", () => {
        itWithSibling(
          "tells a watcher about heads another writer puts, on its ledger only",
          async () => {
            const a = await openTracked();
            expect(
              typeof a.watch,
              "a gateway without watch declares skip.watch",
            ).toBe("function");
            const b = track(await openSibling(a));
            const ledger = fresh("watched");
            const elsewhere = fresh("unwatched");
            const seen = recordHeads(a, ledger, watchTimeoutMs);
            const [other] = await putCommits(b, elsewhere, 1);
            await b.putHeads(elsewhere, { add: [other.cid], remove: [] });
            const [c] = await putCommits(b, ledger, 1);
            await b.putHeads(ledger, { add: [c.cid], remove: [] });
            await seen.until(
              (h) => cidStrings(h).includes(c.cid.toString()),
              "the new head",
            );
            expect(seen.all.flat().map(String)).not.toContain(
              other.cid.toString(),
            );
            seen.stop();
          },
        );

        itWithSibling(
          "stops telling a watcher after it unsubscribes",
          async () => {
            const a = await openTracked();
            expect(
              typeof a.watch,
              "a gateway without watch declares skip.watch",
            ).toBe("function");
            const b = track(await openSibling(a));
            const ledger = fresh("unsubscribe");
            const stopped = recordHeads(a, ledger, watchTimeoutMs);
            const still = recordHeads(a, ledger, watchTimeoutMs);
            stopped.stop();
            const [c] = await putCommits(b, ledger, 1);
            await b.putHeads(ledger, { add: [c.cid], remove: [] });
            await still.until(
              (h) => cidStrings(h).includes(c.cid.toString()),
              "the new head",
            );
            expect(stopped.all).toEqual([]);
            still.stop();
          },
        );
      });

    section("local", () => {
      // A gateway without local storage declares skip.local, so here it must have one.
      const requireLocal = async (): Promise<{
        g: Gateway;
        local: NonNullable<Gateway["local"]>;
      }> => {
        const g = await openTracked();
        expect(
          g.local,
          "a gateway without local storage declares skip.local",
        ).toBeDefined();
        return { g, local: g.local! };
      };

      it("keeps the first writer key it is given, for every ledger", async () => {
        const { g, local } = await requireLocal();
        const before = await local.getWriterKey();
        const first = await local.putWriterKey(fresh("writer-a"));
        // A long-lived store may hold a writer key already: then that one stays.
        if (before !== undefined) expect(first).toBe(before);
        expect(await local.putWriterKey(fresh("writer-b"))).toBe(first);
        expect(await local.getWriterKey()).toBe(first);
        if (openSibling) {
          const sibling = track(await openSibling(g));
          expect(await sibling.local?.getWriterKey()).toBe(first);
        }
      });

      it("stores and replaces the key", async () => {
        const opened = await requireLocal();
        const { local } = opened;
        const ledger = fresh("key");
        expect(await local.getKey(ledger)).toBeUndefined();
        await local.putKey(ledger, "first-key");
        expect(await local.getKey(ledger)).toBe("first-key");
        await local.putKey(ledger, "second-key");
        expect(await local.getKey(ledger)).toBe("second-key");
      });

      it("stores and replaces the checkpoint", async () => {
        const opened = await requireLocal();
        const { local } = opened;
        const ledger = fresh("checkpoint");
        expect(await local.getCheckpoint(ledger)).toBeUndefined();
        const one = randomBytes(1000);
        const two = randomBytes(1 << 20);
        await local.putCheckpoint(ledger, one);
        expectBytes(await local.getCheckpoint(ledger), one);
        await local.putCheckpoint(ledger, two);
        expectBytes(await local.getCheckpoint(ledger), two);
        await local.putCheckpoint(ledger, new Uint8Array(0));
        expectBytes(await local.getCheckpoint(ledger), new Uint8Array(0));
      });

      it("stores and replaces meta records by name, per ledger", async () => {
        const opened = await requireLocal();
        const { local } = opened;
        const ledger = fresh("meta");
        const other = fresh("meta-other");
        expect(await local.getMeta(ledger, "sync-a")).toBeUndefined();
        const one = randomBytes(100);
        const two = randomBytes(5000);
        await local.putMeta(ledger, "sync-a", one);
        await local.putMeta(ledger, "sync-b", two);
        expectBytes(await local.getMeta(ledger, "sync-a"), one);
        expectBytes(await local.getMeta(ledger, "sync-b"), two);
        expect(await local.getMeta(other, "sync-a")).toBeUndefined();
        await local.putMeta(ledger, "sync-a", two);
        expectBytes(await local.getMeta(ledger, "sync-a"), two);
        await expect(
          local.putMeta(ledger, "../escape", one),
        ).rejects.toMatchObject({ code: "invalid-argument" });
      });

      it("lists every commit held", async () => {
        const { g, local } = await requireLocal();
        const ledger = fresh("list");
        expect(await local.listCommits(ledger)).toEqual([]);
        const commits = await putCommits(g, ledger, 5);
        expect(cidStrings(await local.listCommits(ledger)).sort()).toEqual(
          sorted(commits),
        );
      });

      it("retains only the kept commits, and keeps working", async () => {
        const { g, local } = await requireLocal();
        const ledger = fresh("retain");
        const commits = await putCommits(g, ledger, 5);
        const [c0, c1, c2, c3, c4] = commits;
        await g.putHeads(ledger, { add: [c4.cid], remove: [] });
        await expect(
          local.retainCommits(ledger, new Set([c1.cid.toString()])),
          "a head missing from keep",
        ).rejects.toBeInstanceOf(KilnError);
        expect(cidStrings(await local.listCommits(ledger)).sort()).toEqual(
          sorted(commits),
        );

        await local.retainCommits(
          ledger,
          new Set([c1.cid.toString(), c4.cid.toString()]),
        );
        expectBytes(await g.getCommit(ledger, c1.cid), c1.bytes);
        expectBytes(await g.getCommit(ledger, c4.cid), c4.bytes);
        for (const dropped of [c0, c2, c3])
          expect(await g.getCommit(ledger, dropped.cid)).toBeUndefined();
        expect(cidStrings(await local.listCommits(ledger)).sort()).toEqual(
          sorted([c1, c4]),
        );
        expect(cidStrings(await g.getHeads(ledger))).toEqual([
          c4.cid.toString(),
        ]);

        const [c5] = await putCommits(g, ledger, 1);
        expect(
          cidStrings(
            await g.putHeads(ledger, { add: [c5.cid], remove: [c4.cid] }),
          ),
        ).toEqual([c5.cid.toString()]);
        expectBytes(await g.getCommit(ledger, c5.cid), c5.bytes);
        // A dropped commit can be stored again.
        await g.putCommit(ledger, c2.cid, c2.bytes);
        expectBytes(await g.getCommit(ledger, c2.cid), c2.bytes);
      });

      it("reports a size that grows with what is stored", async () => {
        const { g, local } = await requireLocal();
        const ledger = fresh("size");
        const before = await local.sizeOf(ledger);
        const c = await makeCommit(10_000);
        await g.putCommit(ledger, c.cid, c.bytes);
        const after = await local.sizeOf(ledger);
        expect(after).toBeGreaterThanOrEqual(before + c.bytes.length);
      });

      it("destroys everything of one ledger, and only that", async () => {
        const { g, local } = await requireLocal();
        const ledger = fresh("destroy");
        const bystander = fresh("bystander");
        for (const l of [ledger, bystander]) {
          const [c] = await putCommits(g, l, 1);
          await g.putHeads(l, { add: [c.cid], remove: [] });
          await local.putKey(l, "key");
          await local.putCheckpoint(l, randomBytes(10));
        }
        const [kept] = await local.listCommits(bystander);
        await local.destroy(ledger);
        expect(await local.getKey(ledger)).toBeUndefined();
        expect(await local.getCheckpoint(ledger)).toBeUndefined();
        expect(await local.listCommits(ledger)).toEqual([]);
        expect(await g.getHeads(ledger)).toEqual([]);
        expect(await local.sizeOf(ledger)).toBe(0);

        expect(await local.getKey(bystander)).toBe("key");
        expect(cidStrings(await g.getHeads(bystander))).toEqual([
          kept!.toString(),
        ]);

        // The name is free for a new ledger.
        const [again] = await putCommits(g, ledger, 1);
        expect(
          cidStrings(
            await g.putHeads(ledger, { add: [again.cid], remove: [] }),
          ),
        ).toEqual([again.cid.toString()]);
      });
    });
  });
}

async function makeCommit(size = 3000): Promise<TestCommit> {
  const bytes = randomBytes(size);
  return { cid: CID.createV1(DAG_CBOR, await sha256.digest(bytes)), bytes };
}

async function makeCommits(n: number): Promise<TestCommit[]> {
  return Promise.all(Array.from({ length: n }, () => makeCommit()));
}

type Tuple<N extends number, T, Acc extends T[] = []> = Acc["length"] extends N
  ? Acc
  : Tuple<N, T, [...Acc, T]>;

async function putCommits<N extends number>(
  g: Gateway,
  ledger: string,
  n: N,
): Promise<Tuple<N, TestCommit>> {
  const commits = await makeCommits(n);
  for (const c of commits) await g.putCommit(ledger, c.cid, c.bytes);
  return commits as Tuple<N, TestCommit>;
}

class ViewSlicingBytes extends Uint8Array<ArrayBuffer> {
  override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
    return this.subarray(start, end);
  }
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 65536 bytes a call.
  for (let at = 0; at < size; at += 65536)
    globalThis.crypto.getRandomValues(
      bytes.subarray(at, Math.min(size, at + 65536)),
    );
  return bytes;
}

function cidStrings(cids: readonly CID[]): string[] {
  return cids.map((c) => c.toString());
}

function sorted(commits: readonly TestCommit[]): string[] {
  return commits.map((c) => c.cid.toString()).sort();
}

function expectBytes(
  actual: Uint8Array | undefined,
  expected: Uint8Array,
): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual?.length).toBe(expected.length);
  expect(equalBytes(actual!, expected), "bytes differ").toBe(true);
}

function recordHeads(
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
