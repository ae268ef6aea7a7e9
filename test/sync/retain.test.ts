// History let go on both sides, through a real SyncServer on a loopback port: a replica
// publishes a snapshot with retain "snapshot", the server drops what it covers, and a replica
// that was offline across that — with unsent writes on top of the dropped history — starts
// from the snapshot, and nothing is lost on either side.
import { nodeSigning } from "../../src/trust/node-signing.js";
import { afterEach, describe, expect, it } from "vitest";
import { CID } from "multiformats/cid";
import { openLedger } from "../../src/index.js";
import type { Connection, Ledger } from "../../src/index.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";

const FAST = { backoff: { baseMs: 10, maxMs: 100 }, pollWaitMs: 2_000 };

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function open(name: string, storage: string, key?: string) {
  const ledger = await openLedger(name, { storage, ...(key ? { key } : {}) });
  cleanup.push(() => ledger.close());
  return ledger;
}

function synced(c: Connection): Promise<void> {
  return Promise.race([
    c.synced(),
    new Promise<never>((_, reject) => c.on("error", reject)),
  ]);
}

async function docs(l: Ledger) {
  return (await l.allDocs()).rows;
}

describe.each(["ws", "http"])("retain over %s", (transport) => {
  it("a replica offline across a retain starts from the snapshot and its writes merge", async () => {
    const backend = createMemoryBackend();
    const server = createSyncServer({ backend });
    const listener = await server.listen({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => server.close());
    const url = `${listener.url.replace(/\/$/, "")}?transport=${transport}`;
    const room = `${transport}-${Date.now()}`;

    const a = await open("orders", `memory://a-${room}`);
    const ca = a.connect(url, FAST);
    for (let i = 0; i < 10; i++) await a.put({ _id: `d${i}`, i });
    await synced(ca);
    const early = [...a.clock];

    const b = await open("orders", `memory://b-${room}`, a.key);
    let cb = b.connect(url, FAST);
    await synced(cb);
    await cb.close();
    // Offline: B writes on top of history the server is about to let go.
    await b.put({ _id: "from-b", by: "b" });
    await b.put({ _id: "d1", i: 1, by: "b" });
    await b.del("d2");

    for (let i = 10; i < 15; i++) await a.put({ _id: `d${i}`, i });
    await a.put({ _id: "d1", i: 1, by: "a" });
    await synced(ca);
    await ca.publishSnapshot({ retain: "snapshot" });
    expect(
      await backend.getCommits(
        "orders",
        early.map((c) => CID.parse(c)),
      ),
    ).toEqual(early.map(() => undefined));

    cb = b.connect(url, FAST);
    await synced(cb);
    await synced(ca);
    // Nothing lost on either side: B has A's later writes, A has B's offline ones, and both
    // agree on every doc (d1 written by both at once: one deterministic winner).
    const onA = await docs(a);
    expect(await docs(b)).toEqual(onA);
    expect([...b.clock].sort()).toEqual([...a.clock].sort());
    const ids = onA.map((r) => r.id);
    expect(ids).toContain("from-b");
    expect(ids).toContain("d14");
    expect(ids).not.toContain("d2");
    expect(onA).toHaveLength(15);

    // Reopened, B holds the same state: the snapshot as its checkpoint, its commits on top.
    const clock = [...b.clock].sort();
    await cb.close();
    await b.close();
    const again = await open("orders", `memory://b-${room}`);
    expect(await docs(again)).toEqual(onA);
    expect([...again.clock].sort()).toEqual(clock);

    // The server goes on serving: a brand-new replica starts from the snapshot too.
    const c = await open("orders", `memory://c-${room}`, a.key);
    await synced(c.connect(url, FAST));
    expect(await docs(c)).toEqual(onA);
  });
});

describe("a replica that refuses the snapshot after a retain", () => {
  it("gets history-gone, and synced() rejects with it instead of waiting", async () => {
    const backend = createMemoryBackend();
    const server = createSyncServer({ backend });
    const listener = await server.listen({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => server.close());
    const url = listener.url.replace(/\/$/, "");
    const room = `refuse-${Date.now()}`;
    // A writer whose signatures never verify: a new replica refuses its snapshot (every
    // commit is signed, so "unsigned" is no longer possible).
    const a = await openLedger("orders", {
      storage: `memory://a-${room}`,
      signing: {
        importSigner: async (seed) => ({
          publicKey: (await nodeSigning.importSigner(seed)).publicKey,
          sign: () => Promise.resolve(new Uint8Array(64)),
        }),
        verify: (...args) => nodeSigning.verify(...args),
      },
    });
    cleanup.push(() => a.close());
    const ca = a.connect(url, FAST);
    for (let i = 0; i < 5; i++) await a.put({ _id: `d${i}` });
    await ca.publishSnapshot({ retain: "snapshot" });

    const b = await open("orders", `memory://b-${room}`, a.key);
    const cb = b.connect(url, FAST);
    const errors: string[] = [];
    cb.on("error", (e) => errors.push(e.message));
    await expect(cb.synced()).rejects.toMatchObject({
      reason: "history-gone",
    });
    expect(errors.some((m) => /signature does not verify/.test(m))).toBe(true);
    expect((await b.allDocs()).rows).toEqual([]);
  });
});
