// Two handles on one ledger in one storage (two tabs on indexeddb://, here two ledgers on one
// memory room): a write through one reaches subscribe and live on the other, without a
// server, and following never writes heads back (no echo between handles).
import { afterEach, describe, expect, it } from "vitest";
import { openLedger } from "../src/index.js";
import type { Ledger } from "../src/index.js";

const open: Ledger[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});

async function pair(): Promise<[Ledger, Ledger]> {
  const storage = `memory://follow-${crypto.randomUUID()}`;
  const a = await openLedger("orders", { storage });
  const b = await openLedger("orders", { storage, key: a.key });
  open.push(a, b);
  return [a, b];
}

/** Resolves with the first value `check` accepts among those `listen` reports. */
function until<T>(
  listen: (report: (value: T) => void) => () => void,
  check: (value: T) => boolean,
): Promise<T> {
  return new Promise((resolve) => {
    const stop = listen((value) => {
      if (check(value)) {
        stop();
        resolve(value);
      }
    });
  });
}

describe("a ledger follows its own storage", () => {
  it("delivers another handle's put to subscribe and live", async () => {
    const [a, b] = await pair();
    const rows = until<{ id: string }[]>(
      (report) => b.subscribe(report),
      (r) => r.some((row) => row.id === "o1"),
    );
    const live = until<{ rows: { id: string }[] }>(
      (report) => {
        const q = b.live("status", { key: "open" }, report);
        return () => q.stop();
      },
      (r) => r.rows.length === 1,
    );
    await a.put({ _id: "o1", status: "open" });
    await rows;
    expect((await live).rows.map((r) => r.id)).toEqual(["o1"]);
    expect(await b.get("o1")).toEqual({ _id: "o1", status: "open" });
    expect(b.clock).toEqual(a.clock);
  });

  it("merges concurrent writes of both handles into one state on each", async () => {
    const [a, b] = await pair();
    // Each has seen both last writes (its own and the other's) once both are merged.
    const both = (l: Ledger) => {
      const seen = new Set<string>();
      return until<{ id: string }[]>(
        (report) => l.subscribe(report),
        (rows) => {
          for (const r of rows) seen.add(r.id);
          return seen.has("last-a") && seen.has("last-b");
        },
      );
    };
    const settled = Promise.all([both(a), both(b)]);
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => a.put({ _id: `a${i}` })),
      ...Array.from({ length: 10 }, (_, i) => b.put({ _id: `b${i}` })),
    ]);
    // A last write on each side supersedes every branch.
    await a.put({ _id: "last-a" });
    await b.put({ _id: "last-b" });
    await settled;
    const ids = async (l: Ledger) =>
      (await l.allDocs()).rows.map((r) => r.id).sort();
    expect(await ids(a)).toEqual(await ids(b));
    expect(await ids(a)).toHaveLength(22);
    expect(a.clock).toEqual(b.clock);
  });

  it("stops following when closed", async () => {
    const [a, b] = await pair();
    let calls = 0;
    b.subscribe(() => calls++);
    await b.close();
    await a.put({ _id: "after" });
    // a's own subscribers have run by now (put resolves after them); b saw nothing.
    expect(calls).toBe(0);
  });
});
