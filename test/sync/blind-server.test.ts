// The server is blind: no plaintext of a document reaches anything the SyncServer receives
// or stores. Every byte on the wire (captured by a proxy, both directions) and every byte
// of the server's data folder is searched for marker strings written into documents.
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openLedger } from "../../src/index.js";
import type { Connection } from "../../src/index.js";
import { openEmbeddedBackend } from "../../src/server/backends/embedded-backend.js";
import { createSyncServer } from "../../src/server/index.js";
import { startProxy } from "./tcp-proxy.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function synced(c: Connection): Promise<void> {
  return Promise.race([
    c.synced(),
    new Promise<never>((_, reject) => c.on("error", reject)),
  ]);
}

async function filesUnder(dir: string): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    if ((await stat(p)).isDirectory()) out.push(await filesUnder(p));
    else out.push(await readFile(p));
  }
  return Buffer.concat(out);
}

describe("the SyncServer is blind", () => {
  it.each(["ws", "http"])(
    "stores and receives no plaintext of a document (%s)",
    async (transport) => {
      const dir = await mkdtemp(join(tmpdir(), "kiln-blind-"));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      const backend = await openEmbeddedBackend(dir);
      cleanup.push(() => backend.close());
      const server = createSyncServer({ backend });
      const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
      cleanup.push(() => server.close());
      const proxy = await startProxy(port);
      cleanup.push(() => proxy.close());

      const marker = "PLAINTEXT-MARKER-7f3a";
      const a = await openLedger("orders", { storage: "memory://" });
      const b = await openLedger("orders", {
        storage: "memory://",
        key: a.key,
      });
      cleanup.push(() => a.close());
      cleanup.push(() => b.close());
      const url = `http://127.0.0.1:${proxy.port}?transport=${transport}`;
      const ca = a.connect(url);
      const cb = b.connect(url);
      for (let i = 0; i < 20; i++)
        await a.put({ _id: `${marker}-id-${i}`, note: `${marker} body ${i}` });
      await a.bulk([{ _id: "bulk", [`${marker}-field`]: marker }]);
      await synced(ca);
      await synced(cb);
      // The docs did make the trip: b reads them back.
      expect((await b.get(`${marker}-id-3`)).note).toBe(`${marker} body 3`);

      const wire = proxy.captured();
      const stored = await filesUnder(dir);
      // The search itself works: the ledger name, which the server may see, is found.
      expect(wire.includes(Buffer.from("orders"))).toBe(true);
      expect(wire.length).toBeGreaterThan(20 * 100);
      expect(stored.length).toBeGreaterThan(20 * 100);
      for (const needle of [marker, "PLAINTEXT-MARKER", `${marker} body`])
        for (const haystack of [wire, stored]) {
          expect(haystack.includes(Buffer.from(needle))).toBe(false);
          // Nor as UTF-16 or base64 of the marker.
          expect(haystack.includes(Buffer.from(needle, "utf16le"))).toBe(false);
          expect(
            haystack.includes(
              Buffer.from(Buffer.from(needle).toString("base64").slice(0, 16)),
            ),
          ).toBe(false);
        }
    },
  );
});

describe("offline first", () => {
  it("a remote 300 ms away does not hold up local writes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kiln-slow-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const backend = await openEmbeddedBackend(dir);
    cleanup.push(() => backend.close());
    const server = createSyncServer({ backend });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => server.close());
    const slow = await startProxy(port, { latencyMs: 300 });
    cleanup.push(() => slow.close());
    const a = await openLedger("orders", { storage: "memory://" });
    cleanup.push(() => a.close());
    const c = a.connect(`ws://127.0.0.1:${slow.port}`);
    await synced(c);
    // Each put resolves while its commit is still in the outbox: no put waits for the
    // remote's acknowledgement, which is at least 600 ms (two proxy hops) away.
    const pendingAfterPut: number[] = [];
    for (let i = 0; i < 10; i++) {
      await a.put({ _id: `w${i}` });
      pendingAfterPut.push(c.pending);
    }
    expect(pendingAfterPut.every((p) => p >= 1)).toBe(true);
    await synced(c);
    expect(c.pending).toBe(0);
  });
});
