// Conformance cases of changes as others see them: watchers, and concurrent puts.
import { expect, it } from "vitest";
import type { LedgerChange } from "../backend.js";
import { makeTestChain, makeTestCommit } from "../backends/test-commits.js";
import { texts, sorted, expectBytes } from "./kit.js";
import type { BackendConformanceKit } from "./kit.js";

export function describeChangeCases(kit: BackendConformanceKit): void {
  const { fresh, openTracked, recordChanges, section } = kit;
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
        expect(texts(first.commits.map((x) => x.cid))).toEqual(texts([a!, c!]));
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
}
