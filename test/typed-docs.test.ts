// Typed documents: a ledger's doc type flows from openLedger<T>() (or its schema) through
// writes, reads, queries, live() and subscribe(). The type assertions are checked by tsc
// over the tests (`npm run typecheck`); the runtime assertions check the same calls work.
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { openLedger } from "../src/index.js";
import type {
  ChangeRow,
  Doc,
  DocFields,
  Ledger,
  QueryRow,
} from "../src/index.js";

interface Trade {
  symbol: string;
  qty: number;
  side: "buy" | "sell";
  approvals?: { by: string; at: number }[];
}

let n = 0;
const storage = () => `memory://typed-${process.pid}-${n++}`;

describe("typed documents", () => {
  it("accepts an interface as the doc type and returns it from every read", async () => {
    const ledger = await openLedger<Trade>("trades", { storage: storage() });
    expectTypeOf(ledger).toEqualTypeOf<Ledger<Trade>>();
    const { id } = await ledger.put({ symbol: "ACME", qty: 10, side: "buy" });
    await ledger.put({ _id: "t2", symbol: "INIT", qty: 5, side: "sell" });

    const doc = await ledger.get(id);
    expectTypeOf(doc).toEqualTypeOf<Doc<Trade>>();
    expectTypeOf(doc.qty).toEqualTypeOf<number>();
    expectTypeOf(doc._id).toEqualTypeOf<string>();
    expect(doc).toEqual({ _id: id, symbol: "ACME", qty: 10, side: "buy" });

    const withConflicts = await ledger.get(id, { conflicts: true });
    expectTypeOf(withConflicts._conflicts).toEqualTypeOf<Doc<Trade>[]>();
    expect(withConflicts._conflicts).toEqual([]);

    const all = await ledger.allDocs();
    expectTypeOf(all.rows[0]!.doc).toEqualTypeOf<Doc<Trade>>();
    expect(all.rows.map((r) => r.doc.symbol).sort()).toEqual(["ACME", "INIT"]);

    const { rows } = await ledger.query("side", { key: "sell" });
    expectTypeOf(rows).toEqualTypeOf<QueryRow<Trade>[]>();
    expect(rows.map((r) => r.doc?.symbol)).toEqual(["INIT"]);

    // A map function gets the typed doc.
    const big = await ledger.query((d, emit) => {
      expectTypeOf(d).toEqualTypeOf<Doc<Trade>>();
      if (d.qty >= 10) emit(d.symbol);
    });
    expect(big.rows.map((r) => r.key)).toEqual(["ACME"]);

    const changes = await ledger.changes();
    expectTypeOf(changes.rows).toEqualTypeOf<ChangeRow<Trade>[]>();
    expect(changes.rows).toHaveLength(2);

    const seen = new Promise<QueryRow<Trade>[]>((resolve) => {
      const live = ledger.live("symbol", { key: "NEW" }, (result) => {
        expectTypeOf(result.rows).toEqualTypeOf<QueryRow<Trade>[]>();
        if (result.rows.length > 0) {
          live.stop();
          resolve(result.rows);
        }
      });
    });
    const subscribed = new Promise<ChangeRow<Trade>[]>((resolve) => {
      const stop = ledger.subscribe((changed) => {
        expectTypeOf(changed).toEqualTypeOf<ChangeRow<Trade>[]>();
        stop();
        resolve(changed);
      });
    });
    await ledger.put({ _id: "t3", symbol: "NEW", qty: 1, side: "buy" });
    expect((await seen)[0]!.doc?.qty).toBe(1);
    const [row] = await subscribed;
    expect(row && "doc" in row ? row.doc.side : undefined).toBe("buy");
    await ledger.close();
  });

  it("refuses docs that are not the ledger's type, at compile time", async () => {
    const l = await openLedger<Trade>("trades", { storage: storage() });
    // @ts-expect-error a missing field
    const missing = l.put({ symbol: "X", side: "buy" });
    // @ts-expect-error a field of the wrong type
    const wrong = l.put({ symbol: "X", qty: "1", side: "buy" });
    // @ts-expect-error an unknown field on a fresh object literal
    const extra = l.put({ symbol: "X", qty: 1, side: "buy", n: 0 });
    // Without a schema the type is the only check: at run time these are JSON, so stored.
    const written = await Promise.all([missing, wrong, extra]);
    expect(written).toHaveLength(3);
    await l.close();
  });

  it("infers the doc type from a schema", async () => {
    const schema = z.object({ symbol: z.string(), qty: z.number().int() });
    const ledger = await openLedger("trades", { storage: storage(), schema });
    expectTypeOf(ledger).toEqualTypeOf<
      Ledger<{ symbol: string; qty: number }>
    >();
    await ledger.put({ _id: "a", symbol: "ACME", qty: 3 });
    expectTypeOf(await ledger.get("a")).toEqualTypeOf<
      Doc<{ symbol: string; qty: number }>
    >();
    await ledger.close();
  });

  it("takes each member of a union doc type whole (a discriminated union schema)", async () => {
    const schema = z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("shipment"), ref: z.string() }),
      z.object({
        kind: z.literal("event"),
        shipment: z.string(),
        at: z.number(),
      }),
    ]);
    const ledger = await openLedger("mixed", { storage: storage(), schema });
    await ledger.put({ _id: "s", kind: "shipment", ref: "PO-1" });
    await ledger.put({ _id: "e", kind: "event", shipment: "s", at: 1 });
    // @ts-expect-error a field of the other member
    const mixed = ledger.put({ kind: "shipment", ref: "PO-2", at: 1 });
    await expect(mixed).resolves.toBeDefined(); // zod strips the unknown key
    const e = await ledger.get("e");
    if (e.kind === "event") expectTypeOf(e.at).toEqualTypeOf<number>();
    expect(e).toEqual({ _id: "e", kind: "event", shipment: "s", at: 1 });
    await ledger.close();
  });

  it("keeps untyped ledgers as they were: any JSON fields", async () => {
    const ledger = await openLedger("loose", { storage: storage() });
    expectTypeOf(ledger).toEqualTypeOf<Ledger<DocFields>>();
    await ledger.put({ _id: "x", anything: [1, "two", { three: null }] });
    const doc = await ledger.get("x");
    expectTypeOf(doc).toEqualTypeOf<Doc>();
    expect(doc.anything).toEqual([1, "two", { three: null }]);
    await ledger.close();
  });
});
