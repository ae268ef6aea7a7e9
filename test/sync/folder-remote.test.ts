// Sync through a shared folder (file:///folder as a remote): two real processes, and one
// ledger bridging a SyncServer and a folder.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { openLedger } from "../../src/index.js";
import type { Connection, Ledger } from "../../src/index.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";
import { killAll, startClient } from "./processes.js";

const dirs: string[] = [];
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  killAll();
  for (const c of cleanup.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

function synced(c: Connection): Promise<void> {
  return Promise.race([
    c.synced(),
    new Promise<never>((_, reject) => c.on("error", reject)),
  ]);
}

const FAST = { backoff: { baseMs: 10, maxMs: 200 } };

describe("file:///folder as a remote", () => {
  it("lets two processes writing the same ids at once converge", async () => {
    const shared = pathToFileURL(await tempDir("kiln-shared-")).href;
    const a = startClient();
    const b = startClient();
    const { key } = await a.call({
      op: "open",
      name: "orders",
      storage: pathToFileURL(await tempDir("kiln-a-")).href,
    });
    await b.call({
      op: "open",
      name: "orders",
      storage: pathToFileURL(await tempDir("kiln-b-")).href,
      key,
    });
    await a.call({ op: "connect", url: `${shared}?poll=50` });
    await b.call({ op: "connect", url: `${shared}?poll=50` });
    await Promise.all([
      a.call({ op: "put", prefix: "same-", from: 0, count: 40, tag: "a" }),
      b.call({ op: "put", prefix: "same-", from: 0, count: 40, tag: "b" }),
      a.call({ op: "put", prefix: "a-", from: 0, count: 20 }),
      b.call({ op: "put", prefix: "b-", from: 0, count: 20 }),
    ]);
    await a.call({ op: "synced" });
    await b.call({ op: "synced" });
    await a.call({ op: "synced" });
    const sa = await a.call({ op: "state" });
    const sb = await b.call({ op: "state" });
    expect(sa.clock).toEqual(sb.clock);
    expect(sa.docs).toEqual(sb.docs);
    expect((sa.docs as unknown[]).length).toBe(80);
    expect(sa.errors).toEqual([]);
    await a.call({ op: "close" });
    await b.call({ op: "close" });
  });

  it("converges through either remote when one ledger is connected to a server and a folder", async () => {
    const server = createSyncServer({ backend: createMemoryBackend() });
    const { url } = await server.listen({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => server.close());
    const folder = `${pathToFileURL(await tempDir("kiln-bridge-")).href}?poll=50`;
    const bridge = await openLedger("orders", { storage: "memory://" });
    const viaServer = await openLedger("orders", {
      storage: "memory://",
      key: bridge.key,
    });
    const viaFolder = await openLedger("orders", {
      storage: "memory://",
      key: bridge.key,
    });
    const ledgers: Ledger[] = [bridge, viaServer, viaFolder];
    for (const l of ledgers) cleanup.push(() => l.close());
    const toServer = bridge.connect(url, FAST);
    const toFolder = bridge.connect(folder, FAST);
    const s = viaServer.connect(url, FAST);
    const f = viaFolder.connect(folder, FAST);
    expect(bridge.connections).toEqual([toServer, toFolder]);
    await viaServer.put({ _id: "from-server-side" });
    await viaFolder.put({ _id: "from-folder-side" });
    await bridge.put({ _id: "from-bridge" });
    // Two rounds: what the bridge pulls from one side it then pushes to the other.
    for (let round = 0; round < 2; round++)
      for (const c of [s, f, toServer, toFolder]) await synced(c);
    const expected = ["from-bridge", "from-folder-side", "from-server-side"];
    for (const l of ledgers)
      expect((await l.allDocs()).rows.map((r) => r.id)).toEqual(expected);
    expect([...viaServer.clock].sort()).toEqual([...viaFolder.clock].sort());
  });
});
