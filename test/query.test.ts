import { exchange, readCheckpoint } from "./fixtures/stores.js";
import { describe, expect, it } from "vitest";
import { openLedger } from "../src/index.js";
import type { Doc, IndexKey, MapFn, QueryOptions } from "../src/index.js";
import { compareKeys } from "../src/crdt/collate.js";
import { createRandom, testSeed } from "../src/util/random.js";

const ids = (r: { rows: { id: string }[] }) => r.rows.map((x) => x.id);

describe("query", () => {
  it("queries a field index by key, range, prefix, keys, limit and descending", async () => {
    const l = await openLedger("q", { storage: "memory://" });
    await l.bulk([
      { _id: "a", status: "open", n: 3, customer: { id: "c1" } },
      { _id: "b", status: "closed", n: 1, customer: { id: "c2" } },
      { _id: "c", status: "open", n: 2, customer: { id: "c1" } },
      { _id: "d", status: "opening", n: 10 },
      { _id: "e", n: null },
    ]);
    expect(ids(await l.query("status", { key: "open" }))).toEqual(["a", "c"]);
    expect((await l.query("status", { key: "open" })).rows[0]).toEqual({
      id: "a",
      key: "open",
      value: null,
      doc: { _id: "a", status: "open", n: 3, customer: { id: "c1" } },
    });
    expect(ids(await l.query("status", { prefix: "open" }))).toEqual([
      "a",
      "c",
      "d",
    ]);
    expect(ids(await l.query("n", { range: [2, 3] }))).toEqual(["c", "a"]);
    expect(ids(await l.query("n", {}))).toEqual(["e", "b", "c", "a", "d"]);
    expect(ids(await l.query("n", { descending: true, limit: 2 }))).toEqual([
      "d",
      "a",
    ]);
    expect(ids(await l.query("n", { keys: [10, 1] }))).toEqual(["d", "b"]);
    expect(ids(await l.query("customer.id", { key: "c1" }))).toEqual([
      "a",
      "c",
    ]);
    expect(
      (await l.query("status", { key: "closed", includeDocs: false })).rows,
    ).toEqual([{ id: "b", key: "closed", value: null }]);
    await expect(l.query("n", { limit: -1 })).rejects.toMatchObject({
      code: "invalid-argument",
    });
    await expect(l.query("", {})).rejects.toMatchObject({
      code: "invalid-argument",
    });
    await l.close();
  });

  it("follows writes: deletes remove rows, a changed key moves the row", async () => {
    const l = await openLedger("q2", { storage: "memory://" });
    await l.put({ _id: "a", status: "open" });
    expect(ids(await l.query("status", { key: "open" }))).toEqual(["a"]);
    await l.put({ _id: "a", status: "closed" });
    expect(ids(await l.query("status", { key: "open" }))).toEqual([]);
    expect(ids(await l.query("status", { key: "closed" }))).toEqual(["a"]);
    await l.del("a");
    expect(ids(await l.query("status", {}))).toEqual([]);
    await l.close();
  });

  it("map functions emit any number of rows with compound keys; a throwing map skips the doc", async () => {
    const l = await openLedger("q3", { storage: "memory://" });
    const errors: unknown[] = [];
    l.on("error", (e) => errors.push(e));
    await l.bulk([
      {
        _id: "o1",
        type: "order",
        customer: "c123",
        amount: 5,
        tags: ["x", "y"],
      },
      { _id: "o2", type: "order", customer: "c123", amount: 50 },
      { _id: "o3", type: "order", customer: "c9", amount: 7 },
      { _id: "n1", type: "note" },
      { _id: "bad", type: "order", customer: "c123", amount: "boom" },
    ]);
    const byCustomer: MapFn = (doc, emit) => {
      if (doc.type !== "order") return;
      if (typeof doc.amount !== "number") throw new Error("no amount");
      emit([doc.customer as string, doc.amount], doc.amount);
    };
    const r = await l.query(byCustomer, {
      prefix: ["c123"],
      descending: true,
      limit: 20,
    });
    expect(r.rows.map((x) => [x.id, x.key, x.value])).toEqual([
      ["o2", ["c123", 50], 50],
      ["o1", ["c123", 5], 5],
    ]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: "MapError", id: "bad" });
    const tags: MapFn = (doc, emit) => {
      for (const t of (doc.tags as string[] | undefined) ?? []) emit(t);
    };
    expect((await l.query(tags, {})).rows.map((x) => [x.key, x.id])).toEqual([
      ["x", "o1"],
      ["y", "o1"],
    ]);
    await l.close();
  });

  it("orders keys as CouchDB collates them", async () => {
    const l = await openLedger("q4", { storage: "memory://" });
    const keys: IndexKey[] = [
      { a: 1 },
      ["b"],
      ["a", 2],
      ["a"],
      "b",
      "a",
      "B",
      10,
      -1,
      2.5,
      true,
      false,
      null,
    ];
    await l.bulk(keys.map((k, i) => ({ _id: `d${i}`, k })));
    const got = (await l.query("k", { includeDocs: false })).rows.map(
      (r) => r.key,
    );
    expect(got).toEqual([
      null,
      false,
      true,
      -1,
      2.5,
      10,
      "B",
      "a",
      "b",
      ["a"],
      ["a", 2],
      ["b"],
      { a: 1 },
    ]);
    await l.close();
  });

  it("matches a brute-force scan over random docs and random options", async () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`query seed ${seed} (reproduce with KILN_SEED=${seed})`);
    const rnd = createRandom(seed);
    const l = await openLedger("q5", { storage: "memory://" });
    const values: IndexKey[] = [
      null,
      true,
      false,
      0,
      1,
      -2,
      3.5,
      "a",
      "ab",
      "b",
      "",
      ["a", 1],
      ["a", 2],
      ["b"],
      { x: 1 },
    ];
    const map: MapFn = (doc, emit) => {
      if (doc.k !== undefined) emit(doc.k as IndexKey, doc.v as IndexKey);
      if (doc.k2 !== undefined) emit(doc.k2 as IndexKey);
    };
    for (let round = 0; round < 25; round++) {
      const batch: Doc[] = [];
      for (let i = rnd.int(20); i > 0; i--) {
        const doc: Doc = { _id: `d${rnd.int(60)}`, v: rnd.int(100) };
        if (rnd.next() < 0.8) doc.k = rnd.pick(values);
        if (rnd.next() < 0.3) doc.k2 = rnd.pick(values);
        batch.push(doc);
      }
      if (batch.length) await l.bulk(batch);
      if (rnd.next() < 0.3) {
        const victim = `d${rnd.int(60)}`;
        await l.del(victim).catch(() => undefined);
      }
      // Brute force: every emit of every live doc, sorted by key then id.
      const all: {
        id: string;
        key: IndexKey;
        value: IndexKey | null;
        n: number;
      }[] = [];
      for (const { id, doc } of (await l.allDocs()).rows) {
        let n = 0;
        map(doc, (key, value) =>
          all.push({ id, key, value: value ?? null, n: n++ }),
        );
      }
      all.sort(
        (a, b) =>
          compareKeys(a.key, b.key) ||
          (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
          a.n - b.n,
      );
      const options: QueryOptions = {
        includeDocs: false,
        descending: rnd.next() < 0.5,
      };
      const kind = rnd.int(5);
      let expected = all;
      if (kind === 1) {
        const k = rnd.pick(values);
        options.key = k;
        expected = all.filter((r) => compareKeys(r.key, k) === 0);
      } else if (kind === 2) {
        const [lo, hi] = [rnd.pick(values), rnd.pick(values)].sort(compareKeys);
        options.range = [lo!, hi!];
        expected = all.filter(
          (r) => compareKeys(r.key, lo!) >= 0 && compareKeys(r.key, hi!) <= 0,
        );
      } else if (kind === 3) {
        options.prefix = "a";
        expected = all.filter(
          (r) => typeof r.key === "string" && r.key.startsWith("a"),
        );
      } else if (kind === 4) {
        options.prefix = ["a"];
        expected = all.filter(
          (r) => Array.isArray(r.key) && r.key.length >= 1 && r.key[0] === "a",
        );
      }
      if (options.descending) expected = [...expected].reverse();
      if (rnd.next() < 0.5) {
        options.limit = rnd.int(8);
        expected = expected.slice(0, options.limit);
      }
      const got = (await l.query(map, options)).rows;
      expect(
        got,
        `seed ${seed} round ${round} ${JSON.stringify(options)}`,
      ).toEqual(expected.map(({ id, key, value }) => ({ id, key, value })));
    }
    await l.close();
  });
});

describe("live", () => {
  it("delivers at once, after local writes, and after merged remote writes", async () => {
    const a = await openLedger("live", { storage: "memory://live-a" });
    const b = await openLedger("live", {
      storage: "memory://live-b",
      key: a.key,
    });
    const results: string[][] = [];
    let notify: (() => void) | undefined;
    const next = () => new Promise<void>((resolve) => (notify = resolve));
    let waiting = next();
    const live = a.live("status", { key: "open" }, (r) => {
      results.push(ids(r));
      notify?.();
    });
    await waiting;
    expect(results).toEqual([[]]);
    waiting = next();
    await a.put({ _id: "x", status: "open" });
    await waiting;
    expect(results.at(-1)).toEqual(["x"]);
    // A remote write, merged: the live query fires for it too.
    waiting = next();
    await b.put({ _id: "y", status: "open" });
    await exchange(a, b);
    await waiting;
    expect(results.at(-1)).toEqual(["x", "y"]);
    live.stop();
    await a.put({ _id: "z", status: "open" });
    expect(results.at(-1)).toEqual(["x", "y"]);
    await a.close();
    await b.close();
  });
});

describe("saved indexes", () => {
  it("a field index is saved in the checkpoint at its clock and resumes after a reopen", async () => {
    const room = `memory://saved-${Math.random().toString(36).slice(2)}`;
    const l = await openLedger("s", { storage: room });
    await l.bulk(
      Array.from({ length: 300 }, (_, i) => ({
        _id: `d${String(i).padStart(3, "0")}`,
        status: i % 3 ? "open" : "closed",
      })),
    );
    expect(
      (await l.query("status", { key: "closed", includeDocs: false })).rows,
    ).toHaveLength(100);
    // A map function is known by its source text: this one is written twice below.
    const byStatus = (): MapFn => (doc, emit) => emit(doc.status as string, 1);
    expect(
      (await l.query(byStatus(), { key: "closed", includeDocs: false })).rows,
    ).toHaveLength(100);
    const clock = l.clock;
    const key = l.key;
    await l.close();

    // The checkpoint holds the indexes, current at the ledger's clock.
    const cp = (await readCheckpoint(room, "s", key))!;
    expect(cp.indexes.map((i) => [i.name, i.clock])).toEqual([
      ["field:status", clock],
      [expect.stringMatching(/^map:/) as unknown as string, clock],
    ]);

    const again = await openLedger("s", { storage: room });
    const closed = await again.query("status", { key: "closed", limit: 3 });
    expect(closed.rows.map((r) => [r.id, r.doc?.status])).toEqual([
      ["d000", "closed"],
      ["d003", "closed"],
      ["d006", "closed"],
    ]);
    // It catches up from its saved clock.
    await again.put({ _id: "d000", status: "open" });
    await again.del("d003");
    expect(
      ids(
        await again.query("status", {
          key: "closed",
          limit: 2,
          includeDocs: false,
        }),
      ),
    ).toEqual(["d006", "d009"]);
    expect(
      (await again.query("status", { key: "open", includeDocs: false })).rows,
    ).toHaveLength(201);
    // A new function object with the same source resumes the saved map index.
    const mapped = await again.query(byStatus(), {
      key: "closed",
      includeDocs: false,
    });
    expect(mapped.rows.slice(0, 2).map((r) => [r.id, r.value])).toEqual([
      ["d006", 1],
      ["d009", 1],
    ]);
    await again.close();
  });
});

describe("queries and concurrent writes", () => {
  it("a write awaited while a query is in flight is never lost by the index", async () => {
    const l = await openLedger("race", { storage: "memory://" });
    await l.bulk(
      Array.from({ length: 500 }, (_, i) => ({
        _id: `d${String(i).padStart(4, "0")}`,
        status: "open",
      })),
    );
    await l.query("status", { key: "open", limit: 1 });
    await l.bulk(
      Array.from({ length: 500 }, (_, i) => ({ _id: `e${i}`, status: "open" })),
    );
    const inFlight = l.query("status", { key: "open", limit: 1 });
    await l.put({ _id: "late", status: "open" });
    await inFlight;
    expect(
      (await l.query("status", { key: "open", includeDocs: false })).rows,
    ).toHaveLength(1001);
    await l.close();
  });

  it("a row's doc is the version its key came from, even when writes race the query", async () => {
    const l = await openLedger("race2", { storage: "memory://" });
    await l.bulk(
      Array.from({ length: 300 }, (_, i) => ({ _id: `d${i}`, status: "open" })),
    );
    const query = l.query("status", { key: "open" });
    const writes = Promise.all([
      l.del("d7"),
      l.put({ _id: "d8", status: "closed" }),
    ]);
    const { rows } = await query;
    await writes;
    for (const row of rows) expect(row.doc?.status).toBe(row.key);
    const after = await l.query("status", { key: "open", includeDocs: false });
    expect(after.rows.map((r) => r.id)).not.toContain("d7");
    expect(after.rows.map((r) => r.id)).not.toContain("d8");
    await l.close();
  });
});
