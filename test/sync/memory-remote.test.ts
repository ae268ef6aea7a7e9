// Sync through memory:// rooms: two and more ledgers in one process, no server.
import { describe, expect, it } from "vitest";
import { openLedger } from "../../src/index.js";
import type { Connection, Ledger } from "../../src/index.js";
import { synced } from "../fixtures/connection-waits.js";

let n = 0;

const room = () => `memory://sync-room-${process.pid}-${n++}`;

async function pair(): Promise<{ a: Ledger; b: Ledger; url: string }> {
  const a = await openLedger("orders", { storage: "memory://" });
  const b = await openLedger("orders", { storage: "memory://", key: a.key });
  return { a, b, url: room() };
}

describe("memory:// remote", () => {
  it("replicates writes both ways and converges", async () => {
    const { a, b, url } = await pair();
    const ca = a.connect(url);
    const cb = b.connect(url);
    await a.put({ _id: "x", v: 1 });
    await b.put({ _id: "y", v: 2 });
    await synced(ca);
    await synced(cb);
    await synced(ca);
    expect((await a.get("y")).v).toBe(2);
    expect((await b.get("x")).v).toBe(1);
    expect([...a.clock].sort()).toEqual([...b.clock].sort());
    expect(ca.pending).toBe(0);
    await a.close();
    await b.close();
    expect(ca.status.kind).toBe("closed");
  });

  it("delivers a write to a subscriber of the other ledger without synced()", async () => {
    const { a, b, url } = await pair();
    a.connect(url);
    const cb: Connection = b.connect(url);
    await synced(cb);
    const seen = new Promise<string>((resolve) =>
      b.subscribe((rows) => {
        for (const r of rows) if (r.id === "live") resolve(r.id);
      }),
    );
    await a.put({ _id: "live", v: 1 });
    expect(await seen).toBe("live");
    await a.close();
    await b.close();
  });
});

describe("memory:// remote: failures and the outbox", () => {
  it("surfaces a DecryptError when the remote's commits are under another key, and stores none of them", async () => {
    const url = room();
    const a = await openLedger("orders", { storage: "memory://" });
    const stranger = await openLedger("orders", { storage: "memory://" });
    const ca = a.connect(url);
    await a.put({ _id: "secret", v: 1 });
    await synced(ca);
    const cs = stranger.connect(url, { backoff: { baseMs: 5, maxMs: 20 } });
    const error = await new Promise<Error>((resolve) =>
      cs.on("error", resolve),
    );
    expect(error).toMatchObject({ code: "decrypt" });
    const status = cs.status;
    if (status.kind === "backoff")
      expect(status.error).toMatchObject({ code: "decrypt" });
    else expect(["connecting", "live"]).toContain(status.kind);
    await expect(stranger.get("secret")).rejects.toMatchObject({
      code: "not-found",
    });
    expect(stranger.clock).toEqual([]);
    await a.close();
    await stranger.close();
  });

  it("keeps unacknowledged commits through close and compaction, and delivers them on the next connect", async () => {
    const url = room();
    const a = await openLedger("orders", { storage: "memory://" });
    const b = await openLedger("orders", { storage: "memory://", key: a.key });
    const ca = a.connect(url);
    await a.put({ _id: "first", v: 1 });
    await synced(ca);
    await ca.close();
    for (let i = 0; i < 50; i++) await a.put({ _id: `offline-${i}`, v: i });
    // Compaction must not drop what the room has not acknowledged.
    await a.compact();
    const again = a.connect(url);
    await synced(again);
    expect(again.pending).toBe(0);
    const cb = b.connect(url);
    await synced(cb);
    const { rows } = await b.allDocs();
    expect(rows.map((r) => r.id).sort()).toEqual(
      ["first", ...Array.from({ length: 50 }, (_, i) => `offline-${i}`)].sort(),
    );
    await a.close();
    await b.close();
  });

  it("keeps what a new connection has not pushed through a compaction (its record is written at connect)", async () => {
    const a = await openLedger("orders", { storage: "memory://" });
    // Nothing listens on port 9 of loopback: nothing is ever acknowledged.
    const c = a.connect("ws://127.0.0.1:9", {
      backoff: { baseMs: 5, maxMs: 20 },
    });
    await new Promise<void>((resolve) =>
      c.on("status", (s) => s.kind === "backoff" && resolve()),
    );
    for (let i = 0; i < 5; i++) await a.put({ _id: `p${i}`, i });
    await a.compact();
    // Every commit is still there for the remote to take (a new one here).
    const b = await openLedger("orders", { storage: "memory://", key: a.key });
    const url = room();
    await synced(a.connect(url));
    await synced(b.connect(url));
    expect((await b.allDocs()).rows.map((r) => r.id)).toEqual([
      "p0",
      "p1",
      "p2",
      "p3",
      "p4",
    ]);
    await a.close();
    await b.close();
  });

  it("lets go at once of what the remote just acknowledged, and a reopen pushes nothing dropped", async () => {
    const storage = `memory://compact-acked-${process.pid}-${n++}`;
    const a = await openLedger("orders", { storage });
    const url = room();
    const c = a.connect(url);
    for (let i = 0; i < 30; i++) await a.put({ _id: `d${i % 3}`, i });
    await synced(c);
    const before = await a.storedBytes();
    // Well within the second a record waits to be written: compaction writes it first.
    await a.compact();
    expect(await a.storedBytes()).toBeLessThan(before / 3);
    const key = a.key;
    await a.close();
    const again = await openLedger("orders", { storage, key });
    await again.put({ _id: "after", i: 30 });
    await synced(again.connect(url));
    const b = await openLedger("orders", { storage: "memory://", key });
    await synced(b.connect(url));
    expect((await b.get("after")).i).toBe(30);
    expect((await b.get("d2")).i).toBe(29);
    await again.close();
    await b.close();
  });

  it("keeps the history of a ledger never connected through close, for its first remote", async () => {
    const storage = `memory://never-connected-${process.pid}-${n++}`;
    const first = await openLedger("orders", { storage });
    // Enough history (~3 KB a commit) that close() would drop it from a connected ledger.
    for (let i = 0; i < 400; i++) await first.put({ _id: `d${i}`, i });
    const key = first.key;
    await first.close();
    const again = await openLedger("orders", { storage, key });
    const other = await openLedger("orders", { storage: "memory://", key });
    const url = room();
    await synced(again.connect(url));
    await synced(other.connect(url));
    expect((await other.allDocs()).rows.length).toBe(400);
    await again.close();
    await other.close();
  });

  it("counts pending commits while the remote cannot be reached, then drains them", async () => {
    const a = await openLedger("orders", { storage: "memory://" });
    // Nothing listens on port 9 of loopback: every attempt fails fast.
    const c = a.connect("ws://127.0.0.1:9", {
      backoff: { baseMs: 5, maxMs: 20 },
    });
    const backoff = new Promise<Error>((resolve) =>
      c.on("status", (s) => s.kind === "backoff" && resolve(s.error)),
    );
    // The error names the URL as given (ws://), not the HTTP fallback's.
    expect((await backoff).message).toContain("ws://127.0.0.1:9/");
    for (let i = 0; i < 5; i++) await a.put({ _id: `p${i}` });
    expect(c.pending).toBe(5);
    await c.close();
    expect(c.status.kind).toBe("closed");
    await expect(c.synced()).rejects.toMatchObject({ code: "closed" });
    await a.close();
  });
});
