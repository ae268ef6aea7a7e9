// Conformance cases of one ledger's commits and heads: storing and reading back, all or nothing,
// the head set moving forward, ledgers kept apart.
import { expect, it } from "vitest";
import { ProtocolError } from "../../sync/protocol/error.js";
import { MAX_HEADS } from "../../sync/protocol/fields.js";
import { KilnError } from "../../util/errors.js";
import type { StoredCommit } from "../backend.js";
import { makeTestChain, makeTestCommit } from "../backends/test-commits.js";
import {
  texts,
  sorted,
  metaText,
  expectBytes,
  ViewSlicingBytes,
} from "./kit.js";
import type { BackendConformanceKit } from "./kit.js";

export function describeCommitCases(kit: BackendConformanceKit): void {
  const { run, fresh, openTracked, recordChanges, section } = kit;
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
        await expect(b.getHeads(name), name).rejects.toBeInstanceOf(KilnError);
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
      expect((await b.putCommits(ledger, roots)).heads).toHaveLength(MAX_HEADS);
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
}
