// One socket per server, however many ledgers: ledgers of one process connected to the same
// SyncServer share one WebSocket, each with its own status, outbox and synced().
import { afterEach, describe, expect, it } from "vitest";
import { openLedger } from "../../src/index.js";
import type { Ledger } from "../../src/index.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer, signToken } from "../../src/server/index.js";
import type { SyncServer, SyncServerOptions } from "../../src/server/index.js";
import { synced, statusWhere } from "../fixtures/connection-waits.js";

const FAST = { backoff: { baseMs: 10, maxMs: 100 } };

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function serve(
  options: Partial<SyncServerOptions> = {},
): Promise<{ server: SyncServer; url: string }> {
  const server = createSyncServer({
    backend: createMemoryBackend(),
    ...options,
  });
  const { url } = await server.listen({ port: 0, host: "127.0.0.1" });
  cleanup.push(() => server.close());
  return { server, url: `${url.replace(/\/$/, "").replace("http:", "ws:")}` };
}

async function open(name: string, key?: string): Promise<Ledger> {
  const l = await openLedger(name, {
    storage: "memory://",
    ...(key ? { key } : {}),
  });
  cleanup.push(() => l.close());
  return l;
}

describe("one WebSocket per server", () => {
  it("carries 50 ledgers on one socket, each with its own connection", async () => {
    const { server, url } = await serve();
    const ledgers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => open(`shared-${i}`)),
    );
    const conns = ledgers.map((l) => l.connect(url, FAST));
    await Promise.all(ledgers.map((l, i) => l.put({ _id: `doc-${i}` })));
    await Promise.all(conns.map(synced));
    expect(server.stats().connections).toBe(1);
    expect(server.stats().subscriptions).toBe(50);
    for (const c of conns)
      expect(c.status).toEqual({ kind: "live", transport: "ws" });

    // A replica of ledger 7 elsewhere sees its write; closing ledger 3's connection leaves
    // the others live on the same socket.
    const replica = await open("shared-7", ledgers[7]!.key);
    await synced(replica.connect(url, FAST));
    expect((await replica.get("doc-7"))._id).toBe("doc-7");
    await conns[3]!.close();
    expect(conns[3]!.status.kind).toBe("closed");
    expect(conns[4]!.status).toEqual({ kind: "live", transport: "ws" });
    const seen = new Promise<void>((resolve) =>
      replica.subscribe(
        (rows) => rows.some((r) => r.id === "later") && resolve(),
      ),
    );
    await ledgers[7]!.put({ _id: "later" });
    await seen;
    expect(server.stats().connections).toBe(1);

    // The socket goes when its last channel does.
    await Promise.all([...conns, ...replica.connections].map((c) => c.close()));
    await waitUntil(() => server.stats().connections === 0);
  });

  it("says hello with the union of the ledgers' tokens", async () => {
    const secret = "a-test-secret-of-some-length";
    const { server, url } = await serve({ secret });
    const a = await open("alpha");
    const b = await open("beta");
    const ca = a.connect(url, {
      ...FAST,
      token: signToken(secret, { ledgers: ["alpha"], write: true }),
    });
    const cb = b.connect(url, {
      ...FAST,
      token: signToken(secret, { ledgers: ["beta"], write: true }),
    });
    await a.put({ _id: "a" });
    await b.put({ _id: "b" });
    await synced(ca);
    await synced(cb);
    expect(server.stats().connections).toBe(1);
    expect(server.stats().subscriptions).toBe(2);
  });

  it("keeps a refused token off the shared socket, so the other ledgers sync on", async () => {
    const secret = "a-test-secret-of-some-length";
    const { server, url } = await serve({ secret });
    const good = await open("good");
    const bad = await open("bad");
    const cg = good.connect(url, {
      ...FAST,
      token: signToken(secret, { ledgers: ["good"], write: true }),
    });
    await synced(cg);
    const cbad = bad.connect(url, { ...FAST, token: "kiln1.bogus.token" });
    const refused = await statusWhere(cbad, (s) => s.kind === "backoff");
    expect(refused.kind === "backoff" && refused.error).toMatchObject({
      reason: "unauthorized",
    });
    // The refusal cost the shared socket once; after it, the good ledger is live again
    // and keeps syncing while the bad one keeps failing on a socket of its own.
    await statusWhere(cbad, (s) => s.kind === "backoff");
    await good.put({ _id: "still-syncing" });
    await cg.synced();
    expect(cg.status).toEqual({ kind: "live", transport: "ws" });
    expect(server.stats().connections).toBeLessThanOrEqual(2);
  });
});

/** Waits on a condition the server reports after its sockets close. */
async function waitUntil(condition: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setImmediate(r));
  }
}
