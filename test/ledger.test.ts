import { exchange, readCheckpoint } from "./fixtures/stores.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DecryptError,
  KilnError,
  NotFoundError,
  ReadOnlyError,
  openLedger,
} from "../src/index.js";
import type { Ledger } from "../src/index.js";

let dir: string;
let url: string;
const open: Ledger[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-ledger-"));
  url = pathToFileURL(dir).href;
});

afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function ledger(
  name = "orders",
  options: { key?: string; storage?: string } = {},
) {
  const l = await openLedger(name, { storage: url, ...options });
  open.push(l);
  return l;
}

describe("Ledger API", () => {
  it("puts, gets, deletes and reports the clock", async () => {
    const l = await ledger();
    const r = await l.put({ _id: "o1", amount: 42 });
    expect(r.id).toBe("o1");
    expect(r.clock).toEqual(l.clock);
    expect(r.clock).toHaveLength(1);
    expect(await l.get("o1")).toEqual({ _id: "o1", amount: 42 });
    const d = await l.del("o1");
    expect(d.clock).not.toEqual(r.clock);
    await expect(l.get("o1")).rejects.toBeInstanceOf(NotFoundError);
    await expect(l.get("o1")).rejects.toMatchObject({ code: "not-found" });
    await expect(l.get("never")).rejects.toMatchObject({ code: "not-found" });
  });

  it("generates ids that sort later when made later", async () => {
    let t = 1_700_000_000_000;
    const l = await openLedger("gen", { storage: url, now: () => t });
    open.push(l);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      if (i % 10 === 0) t += 1;
      ids.push((await l.put({ n: i })).id);
    }
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
  });

  it("keeps Uint8Array values and JSON types", async () => {
    const l = await ledger();
    const doc = {
      _id: "b",
      bytes: new Uint8Array([1, 2, 3]),
      n: 1.5,
      s: "é",
      list: [null, true, { x: [] }],
    };
    await l.put(doc);
    expect(await l.get("b")).toEqual(doc);
  });

  it("bulk writes one commit, all or nothing", async () => {
    const l = await ledger();
    const before = l.clock;
    const r = await l.bulk([{ _id: "a", v: 1 }, { _id: "b", v: 2 }, { v: 3 }]);
    expect(r.ids).toHaveLength(3);
    expect(r.clock).toHaveLength(1);
    expect(r.clock).not.toEqual(before);
    const { rows } = await l.allDocs();
    expect(rows).toHaveLength(3);
    expect(
      rows.filter((x) => x.id === "a" || x.id === "b").map((x) => x.doc.v),
    ).toEqual([1, 2]);
    // One bad doc refuses the whole batch and writes nothing.
    const clock = l.clock;
    await expect(
      l.bulk([
        { _id: "c", v: 1 },
        { _id: "", v: 2 },
      ]),
    ).rejects.toMatchObject({ code: "invalid-id" });
    expect(l.clock).toEqual(clock);
    await expect(l.get("c")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("refuses bad docs with typed errors and writes nothing", async () => {
    const l = await ledger();
    await l.put({ _id: "keep", v: 1 });
    const clock = l.clock;
    const cases: [unknown, string][] = [
      [null, "invalid-doc"],
      [[1, 2], "invalid-doc"],
      ["text", "invalid-doc"],
      [new Date(), "invalid-doc"],
      [{ _id: 5 }, "invalid-id"],
      [{ _id: "" }, "invalid-id"],
      [{ _id: "x".repeat(1025) }, "invalid-id"],
      [{ _id: "é".repeat(513) }, "invalid-id"],
      [{ _id: "ok", v: NaN }, "invalid-doc"],
      [{ _id: "ok", v: () => 1 }, "invalid-doc"],
      [{ _id: "ok", v: new Map() }, "invalid-doc"],
      [{ _id: "ok", _rev: "1" }, "invalid-doc"],
      [{ _id: "ok", big: "x".repeat(1024 * 1024 + 1) }, "doc-too-large"],
    ];
    for (const [doc, code] of cases) {
      const p = l.put(doc as never);
      await expect(p).rejects.toBeInstanceOf(KilnError);
      await expect(p).rejects.toMatchObject({ code });
    }
    expect(l.clock).toEqual(clock);
    expect(await l.get("keep")).toEqual({ _id: "keep", v: 1 });
    // An id of exactly 1 KiB is fine.
    await l.put({ _id: "x".repeat(1024) });
  });

  it("allDocs honours prefix, start, end, limit and descending", async () => {
    const l = await ledger();
    const ids = ["a1", "a2", "a3", "b1", "b2", "c1"];
    await l.bulk(ids.map((id) => ({ _id: id })));
    const list = async (o: object) =>
      (await l.allDocs(o)).rows.map((r) => r.id);
    expect(await list({})).toEqual(ids);
    expect(await list({ prefix: "a" })).toEqual(["a1", "a2", "a3"]);
    expect(await list({ prefix: "a", descending: true })).toEqual([
      "a3",
      "a2",
      "a1",
    ]);
    expect(await list({ start: "a2", end: "b1" })).toEqual(["a2", "a3", "b1"]);
    expect(await list({ start: "a2", end: "b1", descending: true })).toEqual([
      "b1",
      "a3",
      "a2",
    ]);
    expect(await list({ limit: 2 })).toEqual(["a1", "a2"]);
    expect(await list({ limit: 2, descending: true })).toEqual(["c1", "b2"]);
    expect(await list({ prefix: "b", limit: 1, descending: true })).toEqual([
      "b2",
    ]);
    expect(await list({ prefix: "zz" })).toEqual([]);
    await expect(l.allDocs({ limit: -1 })).rejects.toMatchObject({
      code: "invalid-argument",
    });
  });

  it("changes(since) returns exactly the docs changed since, once", async () => {
    const l = await ledger();
    await l.put({ _id: "a", v: 1 });
    await l.put({ _id: "b", v: 1 });
    const mid = l.clock;
    await l.put({ _id: "a", v: 2 });
    await l.put({ _id: "c", v: 1 });
    await l.del("b");
    await l.put({ _id: "a", v: 3 });
    const all = await l.changes();
    expect(all.rows).toEqual([
      { id: "c", doc: { _id: "c", v: 1 } },
      { id: "b", deleted: true },
      { id: "a", doc: { _id: "a", v: 3 } },
    ]);
    expect(all.clock).toEqual(l.clock);
    const since = await l.changes(mid);
    expect(since.rows.map((r) => r.id)).toEqual(["c", "b", "a"]);
    expect((await l.changes(l.clock)).rows).toEqual([]);
    // A feed read with a limit visits every change exactly once.
    const seen: string[] = [];
    let clock: string[] = [];
    for (let guard = 0; guard < 10; guard++) {
      const page = await l.changes(clock, { limit: 1 });
      if (page.rows.length === 0) break;
      seen.push(...page.rows.map((r) => r.id));
      clock = page.clock;
    }
    expect(seen.sort()).toEqual(["a", "b", "c"]);
    await expect(l.changes(["bafyfake"])).rejects.toMatchObject({
      code: "invalid-argument",
    });
    // A clock this ledger does not hold (history let go, or another replica's): the feed
    // starts again with every current doc, marked reset; deletions are not listed.
    // (Another ledger's: a second handle on this one would merge into it, storage-follower.ts.)
    const other = await ledger("elsewhere");
    await other.put({ _id: "x" });
    const reset = await l.changes(other.clock, { limit: 1 });
    expect(reset).toEqual({
      rows: [
        { id: "a", doc: { _id: "a", v: 3 } },
        { id: "c", doc: { _id: "c", v: 1 } },
      ],
      clock: l.clock,
      reset: true,
    });
    expect((await l.changes(reset.clock)).rows).toEqual([]);
  });

  it("subscribe delivers rows after every write", async () => {
    const l = await ledger();
    const got: unknown[] = [];
    const stop = l.subscribe((rows) => got.push(rows));
    await l.put({ _id: "a", v: 1 });
    await l.bulk([{ _id: "b" }, { _id: "c" }]);
    await l.del("a");
    stop();
    await l.put({ _id: "d" });
    expect(got).toEqual([
      [{ id: "a", doc: { _id: "a", v: 1 } }],
      [
        { id: "b", doc: { _id: "b" } },
        { id: "c", doc: { _id: "c" } },
      ],
      [{ id: "a", deleted: true }],
    ]);
  });

  it("reopens with everything, and with compaction", async () => {
    const l = await ledger();
    for (let i = 0; i < 300; i++) await l.put({ _id: `d${i}`, i });
    await l.del("d5");
    const clock = l.clock;
    await l.close();
    const again = await ledger();
    expect(again.clock).toEqual(clock);
    expect(await again.get("d299")).toEqual({ _id: "d299", i: 299 });
    await expect(again.get("d5")).rejects.toBeInstanceOf(NotFoundError);
    expect((await again.allDocs()).rows).toHaveLength(299);
    await again.put({ _id: "after", v: 1 });
    await again.compact();
    expect((await again.allDocs()).rows).toHaveLength(300);
    const c2 = again.clock;
    await again.close();
    const third = await ledger();
    expect(third.clock).toEqual(c2);
    expect(await third.get("after")).toEqual({ _id: "after", v: 1 });
    expect((await third.changes()).rows).toHaveLength(301);
  });

  it("writes checkpoints on its own, so a crash replays a bounded tail", async () => {
    const room = `memory://auto-${Math.random().toString(36).slice(2)}`;
    const l = await openLedger("auto", { storage: room, checkpointEvery: 50 });
    open.push(l);
    for (let i = 0; i < 120; i++) await l.put({ _id: `d${i % 30}`, i });
    const cp = await readCheckpoint(room, "auto", l.key);
    expect(cp).toBeDefined();
    expect(cp!.heads[0]!.height).toBeGreaterThanOrEqual(100);
  });

  it("a second replica opened with the key reads the same docs; a wrong key is a DecryptError", async () => {
    const l = await ledger("shared");
    await l.put({ _id: "x", secret: 1 });
    const key = l.key;
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await l.close();
    const right = await ledger("shared", { key });
    expect(await right.get("x")).toEqual({ _id: "x", secret: 1 });
    await right.close();
    const wrong = "A".repeat(43);
    const p = openLedger("shared", { storage: url, key: wrong });
    await expect(p).rejects.toBeInstanceOf(DecryptError);
    await expect(
      openLedger("shared", { storage: url, key: "short" }),
    ).rejects.toMatchObject({ code: "invalid-key" });
  });

  it("an explicit key replaces the stored key of a ledger with no commits yet", async () => {
    const first = await ledger("unused");
    const made = first.key;
    await first.close();
    const other = await ledger("donor");
    const wanted = other.key;
    await other.close();
    expect(wanted).not.toBe(made);
    const l = await ledger("unused", { key: wanted });
    await l.put({ _id: "a" });
    await l.close();
    // Reopened without a key, it finds the explicit one.
    const again = await ledger("unused");
    expect(again.key).toBe(wanted);
    expect(await again.get("a")).toEqual({ _id: "a" });
  });

  it("destroy removes the ledger and its key; other ledgers in the store stay", async () => {
    const l = await ledger("doomed");
    const keep = await ledger("kept");
    await l.put({ _id: "a" });
    await keep.put({ _id: "b" });
    const key = l.key;
    await l.destroy();
    await expect(l.get("a")).rejects.toMatchObject({ code: "closed" });
    const fresh = await ledger("doomed");
    expect(fresh.key).not.toBe(key);
    expect((await fresh.allDocs()).rows).toEqual([]);
    expect(await keep.get("b")).toEqual({ _id: "b" });
  });

  it("refuses bad names and storage URLs with typed errors", async () => {
    await expect(openLedger("", { storage: url })).rejects.toMatchObject({
      code: "invalid-argument",
    });
    await expect(
      openLedger("x", { storage: "nope://where" }),
    ).rejects.toMatchObject({ code: "invalid-url" });
    await expect(
      openLedger("x", { storage: "not a url" }),
    ).rejects.toMatchObject({ code: "invalid-url" });
    await expect(
      openLedger("x", { storage: "file://relative/path" }),
    ).rejects.toMatchObject({ code: "invalid-url" });
  });

  it("has(id) tells a live doc from a missing or deleted one, lazy after a reopen too", async () => {
    const l = await ledger("has");
    await l.put({ _id: "here", v: 1 });
    await l.put({ _id: "gone", v: 1 });
    await l.del("gone");
    expect(await l.has("here")).toBe(true);
    expect(await l.has("gone")).toBe(false);
    expect(await l.has("never")).toBe(false);
    await expect(l.has("")).rejects.toMatchObject({ code: "invalid-id" });
    await l.close();
    const again = await ledger("has");
    expect(await again.has("here")).toBe(true);
    expect(await again.has("gone")).toBe(false);
  });

  it("a read-only ledger refuses local writes with a ReadOnlyError and changes nothing, yet still merges", async () => {
    const writer = await ledger("ro", { storage: "memory://ro-writer" });
    await writer.put({ _id: "a", v: 1 });
    const reader = await openLedger("ro", {
      storage: "memory://ro-reader",
      key: writer.key,
      readOnly: true,
    });
    open.push(reader);
    const clock = reader.clock;
    for (const write of [
      () => reader.put({ _id: "b" }),
      () => reader.bulk([{ _id: "b" }]),
      () => reader.del("a"),
    ]) {
      const refused = write();
      await expect(refused).rejects.toBeInstanceOf(ReadOnlyError);
      await expect(refused).rejects.toMatchObject({
        code: "read-only",
        ledger: "ro",
      });
    }
    expect(reader.clock).toEqual(clock);
    await exchange(writer, reader);
    expect(await reader.get("a")).toEqual({ _id: "a", v: 1 });
    expect(writer.clock).toEqual(reader.clock);
  });

  it("rejects calls after close", async () => {
    const l = await ledger();
    await l.close();
    await expect(l.put({ _id: "a" })).rejects.toMatchObject({ code: "closed" });
    await expect(l.get("a")).rejects.toMatchObject({ code: "closed" });
  });

  it("two approvers set their own field of one trade at once: both approvals survive on both replicas", async () => {
    const a = await ledger("trades", { storage: "memory://approvers-a" });
    const b = await ledger("trades", {
      storage: "memory://approvers-b",
      key: a.key,
    });
    await a.put({ _id: "trade-1", amount: 1_000_000, status: "pending" });
    await exchange(a, b);
    const seen = await b.get("trade-1");
    await Promise.all([
      a.put({ ...(await a.get("trade-1")), approvedByAlice: true }),
      b.put({ ...seen, approvedByBob: true }),
    ]);
    await exchange(a, b);
    const expected = {
      _id: "trade-1",
      amount: 1_000_000,
      status: "pending",
      approvedByAlice: true,
      approvedByBob: true,
    };
    for (const r of [a, b]) {
      expect(await r.get("trade-1")).toEqual(expected);
      // Different fields: nothing was lost, so nothing is a conflict.
      expect(await r.get("trade-1", { conflicts: true })).toEqual({
        ...expected,
        _conflicts: [],
      });
      expect((await r.allDocs()).rows).toEqual([
        { id: "trade-1", doc: expected },
      ]);
      expect(
        (await r.query("approvedByBob")).rows.map((row) => row.id),
      ).toEqual(["trade-1"]);
    }
    // Both approvers then set the status at once: one wins on both replicas, the other's
    // whole version stays readable.
    await Promise.all([
      a.put({ ...expected, status: "approved by alice" }),
      b.put({ ...expected, status: "approved by bob" }),
    ]);
    await exchange(a, b);
    const wa = await a.get("trade-1", { conflicts: true });
    expect(await b.get("trade-1", { conflicts: true })).toEqual(wa);
    const conflicts = wa._conflicts as unknown as { status: string }[];
    expect(conflicts).toHaveLength(1);
    expect([wa.status, conflicts[0]!.status].sort()).toEqual([
      "approved by alice",
      "approved by bob",
    ]);
    // The merged state, conflicts included, survives a checkpoint and a reopen.
    await a.close();
    const again = await ledger("trades", { storage: "memory://approvers-a" });
    expect(await again.get("trade-1", { conflicts: true })).toEqual(wa);
    await again.put({ ...(await again.get("trade-1")), status: "settled" });
    expect(await again.get("trade-1", { conflicts: true })).toEqual({
      ...expected,
      status: "settled",
      _conflicts: [],
    });
  });

  it("merges commits from another replica and keeps conflicts readable", async () => {
    const a = await ledger("c", { storage: "memory://conflicts-a" });
    const b = await ledger("c", {
      storage: "memory://conflicts-b",
      key: a.key,
    });
    await a.put({ _id: "base", v: 0 });
    await exchange(a, b);
    await a.put({ _id: "x", from: "a" });
    await b.put({ _id: "x", from: "b" });
    const seen: unknown[] = [];
    a.subscribe((rows) => seen.push(...rows));
    await exchange(a, b);
    expect(a.clock).toEqual(b.clock);
    expect(a.clock).toHaveLength(2);
    const wa = await a.get("x", { conflicts: true });
    const wb = await b.get("x", { conflicts: true });
    expect(wa).toEqual(wb);
    const conflicts = (wa as unknown as { _conflicts: unknown[] })._conflicts;
    expect(conflicts).toHaveLength(1);
    expect([wa.from, (conflicts[0] as { from: string }).from].sort()).toEqual([
      "a",
      "b",
    ]);
    expect(seen.length).toBeGreaterThan(0);
    expect((await a.allDocs()).rows).toEqual((await b.allDocs()).rows);
    // Conflicts, the clock and the feed survive a checkpoint and a (lazy) reopen.
    const mid = a.clock;
    await a.close();
    const reopened = await ledger("c", { storage: "memory://conflicts-a" });
    expect(reopened.clock).toEqual(mid);
    expect(await reopened.get("x")).toEqual({ _id: "x", from: wa.from });
    expect(await reopened.get("x", { conflicts: true })).toEqual(wa);
    expect((await reopened.changes(mid)).rows).toEqual([]);
    expect((await reopened.changes()).rows.map((r) => r.id).sort()).toEqual([
      "base",
      "x",
    ]);
    await reopened.close();
    const again = await ledger("c", { storage: "memory://conflicts-a" });
    // A write after the merge supersedes both versions.
    await again.put({ _id: "x", from: "resolved" });
    expect(await again.get("x", { conflicts: true })).toEqual({
      _id: "x",
      from: "resolved",
      _conflicts: [],
    });
  });
});

describe("group commit", () => {
  it("writes queued together become one commit, in call order, each refused alone if bad", async () => {
    const l = await openLedger("group", { storage: "memory://" });
    await l.put({ _id: "keep", v: 0 });
    const before = (await l.changes()).clock;
    const results = await Promise.allSettled([
      l.put({ _id: "a", v: 1 }),
      l.put({ _id: "a", v: 2 }),
      l.del("missing"),
      l.bulk([
        { _id: "b", v: 1 },
        { _id: "c", v: 1 },
      ]),
      l.bulk([{ _id: "d", v: 1 }]).then(() => l.del("d")),
      l.del("keep"),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
      "fulfilled",
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({
      code: "not-found",
    });
    // The writes queued in one tick went into one commit: they resolve with the same clock.
    const first = (results[0] as PromiseFulfilledResult<{ clock: string[] }>)
      .value.clock;
    for (const i of [1, 3, 5])
      expect(
        (results[i] as PromiseFulfilledResult<{ clock: string[] }>).value.clock,
      ).toEqual(first);
    expect(await l.get("a")).toEqual({ _id: "a", v: 2 });
    await expect(l.get("keep")).rejects.toMatchObject({ code: "not-found" });
    await expect(l.get("d")).rejects.toMatchObject({ code: "not-found" });
    const since = await l.changes(before);
    expect(since.rows.map((r) => r.id).sort()).toEqual([
      "a",
      "b",
      "c",
      "d",
      "keep",
    ]);
    await l.close();
  });

  it("sequential awaited writes still make one commit each", async () => {
    const l = await openLedger("seq", { storage: "memory://" });
    const clocks = new Set<string>();
    for (let i = 0; i < 5; i++)
      clocks.add((await l.put({ _id: `x${i}` })).clock.join());
    expect(clocks.size).toBe(5);
    await l.close();
  });
});
