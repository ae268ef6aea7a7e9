// Conformance cases of the LocalStorage duties: keys, checkpoint, meta, listing, retain, destroy.
import { expect, it } from "vitest";
import { KilnError } from "../../util/errors.js";
import type { Gateway } from "../gateway.js";
import {
  makeCommit,
  putCommits,
  randomBytes,
  cidStrings,
  sorted,
  expectBytes,
} from "./kit.js";
import type { ConformanceKit } from "./kit.js";

export function describeLocalCases(kit: ConformanceKit): void {
  const { fresh, openTracked, track, openSibling, section } = kit;
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

    it("keeps the first key put for a ledger, until the ledger is destroyed", async () => {
      const { local } = await requireLocal();
      const ledger = fresh("key");
      const other = fresh("key-other");
      expect(await local.getKey(ledger)).toBeUndefined();
      expect(await local.putKey(ledger, "first-key")).toBe("first-key");
      expect(await local.putKey(ledger, "second-key")).toBe("first-key");
      expect(await local.getKey(ledger)).toBe("first-key");
      expect(await local.putKey(other, "other-key")).toBe("other-key");
      await local.destroy(ledger);
      expect(await local.putKey(ledger, "third-key")).toBe("third-key");
      expect(await local.getKey(other)).toBe("other-key");
    });

    it("agrees on one key when keys are put at the same moment", async () => {
      const { g, local } = await requireLocal();
      const ledger = fresh("key-race");
      // Two openers of one new ledger: each makes a key and puts it without awaiting the other.
      const locals = [local];
      if (openSibling) locals.push(track(await openSibling(g)).local!);
      const puts = Array.from({ length: 8 }, (_, i) =>
        locals[i % locals.length]!.putKey(ledger, `key-${i}`),
      );
      const won = await Promise.all(puts);
      expect(new Set(won).size, "every put returns the one stored key").toBe(1);
      expect(won[0]).toMatch(/^key-\d$/);
      for (const l of locals) expect(await l.getKey(ledger)).toBe(won[0]);
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
      expect(cidStrings(await g.getHeads(ledger))).toEqual([c4.cid.toString()]);

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
        cidStrings(await g.putHeads(ledger, { add: [again.cid], remove: [] })),
      ).toEqual([again.cid.toString()]);
    });
  });
}
