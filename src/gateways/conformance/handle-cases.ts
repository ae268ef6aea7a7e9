// Conformance cases on handles: parallel writers, close, and watching another handle's writes.
import { expect, it } from "vitest";
import { ClosedError } from "../../util/errors.js";
import {
  makeCommit,
  makeCommits,
  putCommits,
  cidStrings,
  sorted,
  expectBytes,
  recordHeads,
} from "./kit.js";
import type { ConformanceKit } from "./kit.js";

export function describeHandleCases(kit: ConformanceKit): void {
  const {
    fresh,
    open,
    openTracked,
    track,
    openSibling,
    itWithSibling,
    section,
    watchTimeoutMs,
  } = kit;
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
}
