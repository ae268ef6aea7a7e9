// Conformance cases of a ledger as a whole: its snapshot, deleting it, and its stored bytes (quota).
import { expect, it } from "vitest";
import { ProtocolError } from "../../sync/protocol/error.js";
import type { StoredCommit } from "../backend.js";
import { makeTestChain, makeTestCommit } from "../backends/test-commits.js";
import { cids, texts, expectBytes } from "./kit.js";
import type { BackendConformanceKit } from "./kit.js";

export function describeLedgerCases(kit: BackendConformanceKit): void {
  const { fresh, openTracked, open, opened, options, section } = kit;
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

  section("stored-bytes", () => {
    const size = (commits: readonly StoredCommit[]) =>
      commits.reduce((n, c) => n + c.bytes.length, 0);

    it("counts the commit bytes a ledger holds, and refuses a put past its quota storing nothing", async () => {
      const b = await openTracked();
      const ledger = fresh("quota");
      const other = fresh("quota-other");
      expect(await b.storedBytes(ledger)).toBe(0);
      const chain = await makeTestChain(3, [], 2000);
      await b.putCommits(ledger, chain);
      const held = size(chain);
      expect(await b.storedBytes(ledger)).toBe(held);
      // Held commits add nothing, even under a quota the ledger is already past.
      await b.putCommits(ledger, chain, undefined, 1);
      expect(await b.storedBytes(ledger)).toBe(held);
      expect(await b.storedBytes(other)).toBe(0);

      const next = await makeTestChain(2, [chain[2]!.cid], 3000);
      const over = b.putCommits(ledger, next, undefined, held + size(next) - 1);
      await expect(over).rejects.toBeInstanceOf(ProtocolError);
      await expect(over).rejects.toMatchObject({ reason: "over-quota" });
      expect(await b.storedBytes(ledger)).toBe(held);
      expect(await b.getCommits(ledger, cids(next))).toEqual([
        undefined,
        undefined,
      ]);
      expect(texts(await b.getHeads(ledger))).toEqual(texts([chain[2]!]));
      // Exactly at the quota is allowed.
      await b.putCommits(ledger, next, undefined, held + size(next));
      expect(await b.storedBytes(ledger)).toBe(held + size(next));
    });

    it("lets concurrent puts past the quota together store only what fits", async () => {
      const b = await openTracked();
      const ledger = fresh("quota-race");
      const roots = await Promise.all(
        Array.from({ length: 8 }, () => makeTestCommit([], 1000)),
      );
      const each = roots[0]!.bytes.length;
      expect(roots.every((r) => r.bytes.length === each)).toBe(true);
      const results = await Promise.allSettled(
        roots.map((r) => b.putCommits(ledger, [r], undefined, 3 * each)),
      );
      const stored = results.filter((r) => r.status === "fulfilled").length;
      expect(stored).toBe(3);
      for (const r of results)
        if (r.status === "rejected")
          expect(r.reason).toMatchObject({ reason: "over-quota" });
      expect(await b.storedBytes(ledger)).toBe(3 * each);
      expect(await b.getHeads(ledger)).toHaveLength(3);
    });

    it("lowers the count by the bytes of dropped commits", async () => {
      const b = await openTracked();
      const ledger = fresh("quota-drop");
      const chain = await makeTestChain(4, [], 1200);
      await b.putCommits(ledger, chain);
      expect(await b.dropCommits(ledger, cids(chain.slice(0, 2)))).toBe(2);
      expect(await b.storedBytes(ledger)).toBe(size(chain.slice(2)));
      // Room made by the drop is room for new commits under the same quota.
      const next = await makeTestCommit([chain[3]!.cid], 1200);
      await b.putCommits(
        ledger,
        [next],
        undefined,
        size(chain.slice(2)) + next.bytes.length,
      );
      expect(await b.storedBytes(ledger)).toBe(size([...chain.slice(2), next]));
    });

    it("counts 0 after the ledger is deleted", async () => {
      const b = await openTracked();
      const ledger = fresh("quota-delete");
      const chain = await makeTestChain(2, [], 1500);
      await b.putCommits(ledger, chain);
      expect(await b.storedBytes(ledger)).toBe(size(chain));
      await b.deleteLedger(ledger);
      expect(await b.storedBytes(ledger)).toBe(0);
      await b.putCommits(ledger, [chain[0]!]);
      expect(await b.storedBytes(ledger)).toBe(chain[0]!.bytes.length);
    });

    if (options.reopen) {
      const reopenCount = options.reopen;
      it("keeps the count across close and reopen", async () => {
        const b = await open();
        const ledger = fresh("quota-reopen");
        const chain = await makeTestChain(3, [], 700);
        await b.putCommits(ledger, chain);
        await b.close();
        const again = await reopenCount(b);
        opened.push(again);
        expect(await again.storedBytes(ledger)).toBe(size(chain));
      });
    }
  });
}
