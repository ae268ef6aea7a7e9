// A ledger's schema (Standard Schema; zod here): local writes failing it are refused and
// nothing is written; docs merged from another replica that fail it are reported once on
// on("error"), refused by get() and left out of queries, live results and feeds.
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { NotFoundError, SchemaError, openLedger } from "../src/index.js";
import type { Connection, Ledger } from "../src/index.js";

const trade = z.object({
  symbol: z.string().min(1),
  qty: z.number().int().positive(),
  status: z.enum(["open", "done"]).default("open"),
});

let n = 0;
const storage = () => `memory://schema-${process.pid}-${n++}`;
const opened: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const l of opened.splice(0)) await l.close().catch(() => undefined);
});

async function open<T extends object>(
  ledger: Promise<Ledger<T>>,
): Promise<Ledger<T>> {
  const l = await ledger;
  opened.push(l);
  return l;
}

async function synced(c: Connection): Promise<void> {
  await c.synced();
}

/** Resolves with the first `count` errors the ledger reports. */
function errors<T extends object>(
  ledger: Ledger<T>,
  count: number,
): Promise<unknown[]> {
  const seen: unknown[] = [];
  return new Promise((resolve) => {
    const stop = ledger.on("error", (e) => {
      seen.push(e);
      if (seen.length === count) {
        stop();
        resolve(seen);
      }
    });
  });
}

describe("schema: local writes", () => {
  it("refuses a doc failing the schema and writes nothing", async () => {
    const l = await open(
      openLedger("t", { storage: storage(), schema: trade }),
    );
    await l.put({ _id: "ok", symbol: "ACME", qty: 1, status: "open" });
    const clock = l.clock;
    const bad = { _id: "bad", symbol: "", qty: 1.5 } as never;
    const refused = await l.put(bad).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SchemaError);
    expect(refused).toMatchObject({ code: "schema", id: "bad" });
    expect((refused as SchemaError).issues.length).toBe(2);
    expect((refused as Error).message).toContain("symbol");
    expect((refused as Error).message).toContain("qty");
    await expect(l.get("bad")).rejects.toBeInstanceOf(NotFoundError);
    expect(l.clock).toEqual(clock);
  });

  it("refuses a whole bulk when one doc fails", async () => {
    const l = await open(
      openLedger("t", { storage: storage(), schema: trade }),
    );
    const clock = l.clock;
    await expect(
      l.bulk([
        { _id: "a", symbol: "A", qty: 1, status: "open" },
        { _id: "b", symbol: "B", qty: -1, status: "open" },
      ]),
    ).rejects.toMatchObject({ code: "schema", id: "b" });
    expect((await l.allDocs()).rows).toEqual([]);
    expect(l.clock).toEqual(clock);
  });

  it("stores the schema's output: defaults are filled, _id is kept", async () => {
    const l = await open(
      openLedger("t", { storage: storage(), schema: trade }),
    );
    const { id } = await l.put({ symbol: "ACME", qty: 2 } as never);
    expect(await l.get(id)).toEqual({
      _id: id,
      symbol: "ACME",
      qty: 2,
      status: "open",
    });
  });

  it("keeps call order with a schema that checks asynchronously", async () => {
    const slow: StandardSchemaV1<unknown, { v: number }> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (value) =>
          new Promise((resolve) =>
            queueMicrotask(() => {
              const v = (value as { v?: unknown }).v;
              resolve(
                typeof v === "number"
                  ? { value: value as { v: number } }
                  : {
                      issues: [{ message: "v must be a number", path: ["v"] }],
                    },
              );
            }),
          ),
      },
    };
    const l = await open(openLedger("t", { storage: storage(), schema: slow }));
    const writes = [
      l.put({ _id: "x", v: 1 }),
      l.put({ _id: "x", v: 2 }),
      l.del("x"),
      l.put({ _id: "y", v: 1 }),
      l.put({ _id: "y", v: 2 }),
      l.put({ _id: "y", v: "three" } as never).catch((e: unknown) => e),
    ];
    const results = await Promise.all(writes);
    expect(results[5]).toBeInstanceOf(SchemaError);
    await expect(l.get("x")).rejects.toBeInstanceOf(NotFoundError);
    expect(await l.get("y")).toEqual({ _id: "y", v: 2 });
  });
});

describe("schema: docs merged from another replica", () => {
  it("reports a failing doc once, refuses it on get and leaves it out of reads", async () => {
    const room = storage();
    // The writer has no schema (an older app version, say); the reader has one.
    const writer = await open(openLedger("t", { storage: storage() }));
    const reader = await open(
      openLedger("t", { storage: storage(), key: writer.key, schema: trade }),
    );
    const cw = writer.connect(room);
    const cr = reader.connect(room);
    const reported = errors(reader, 1);
    const allErrors: unknown[] = [];
    reader.on("error", (e) => allErrors.push(e));
    const liveRows: string[][] = [];
    const live = reader.live("qty", {}, (r) =>
      liveRows.push(r.rows.map((row) => row.id)),
    );

    await writer.bulk([
      { _id: "good", symbol: "ACME", qty: 1, status: "open" },
      { _id: "bad", symbol: "ACME", qty: "many" },
    ]);
    await synced(cw);
    await synced(cr);
    const [error] = await reported;
    expect(error).toBeInstanceOf(SchemaError);
    expect(error).toMatchObject({ id: "bad" });
    await expect(reader.get("bad")).rejects.toMatchObject({
      code: "schema",
      id: "bad",
    });
    expect(await reader.get("good")).toMatchObject({ qty: 1 });
    expect((await reader.allDocs()).rows.map((r) => r.id)).toEqual(["good"]);
    expect((await reader.query("symbol")).rows.map((r) => r.id)).toEqual([
      "good",
    ]);
    const noDocs = await reader.query("symbol", { includeDocs: false });
    expect(noDocs.rows).toEqual([{ id: "good", key: "ACME", value: null }]);
    expect((await reader.changes()).rows.map((r) => r.id)).toEqual(["good"]);

    // Another merge (of a good doc) does not report the bad one again.
    await writer.put({ _id: "later", symbol: "B", qty: 2 });
    await synced(cw);
    await synced(cr);
    expect((await reader.get("later")).qty).toBe(2);
    expect(allErrors).toHaveLength(1);
    expect(liveRows.every((ids) => !ids.includes("bad"))).toBe(true);

    // Fixed upstream, the doc reads again; broken again, it is reported again.
    await writer.put({ _id: "bad", symbol: "ACME", qty: 3, status: "done" });
    await synced(cw);
    await synced(cr);
    expect((await reader.get("bad")).qty).toBe(3);
    const again = errors(reader, 1);
    await writer.put({ _id: "bad", symbol: "", qty: 3 });
    await synced(cw);
    await synced(cr);
    expect(await again).toMatchObject([{ id: "bad" }]);
    expect(allErrors).toHaveLength(2);
    live.stop();
  });
});
