// Conformance cases on one handle: commits, heads, a missing commit, ledgers kept apart.
import { expect, it } from "vitest";
import { KilnError } from "../../util/errors.js";
import {
  makeCommit,
  makeCommits,
  putCommits,
  ViewSlicingBytes,
  cidStrings,
  sorted,
  expectBytes,
} from "./kit.js";
import type { ConformanceKit, TestCommit } from "./kit.js";

export function describeCommitCases(kit: ConformanceKit): void {
  const { fresh, openTracked, section } = kit;
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
        cidStrings(await g.putHeads(ledger, { add: [c.cid], remove: [a.cid] })),
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
}
