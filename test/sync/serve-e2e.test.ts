// End to end with real processes: `kiln serve` (embedded backend in a temp folder) and
// sync clients, each in its own process, on loopback.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, startClient, startServer } from "./processes.js";
import type { ClientProcess } from "./processes.js";

const dirs: string[] = [];
afterEach(async () => {
  killAll();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

async function openClients(
  count: number,
  url: string,
): Promise<{ clients: ClientProcess[]; key: string; storages: string[] }> {
  const clients: ClientProcess[] = [];
  const storages: string[] = [];
  let key = "";
  for (let i = 0; i < count; i++) {
    const c = startClient();
    const storage = pathToFileURL(await tempDir(`kiln-client-${i}-`)).href;
    const opened = await c.call({
      op: "open",
      name: "orders",
      storage,
      ...(key ? { key } : {}),
    });
    key = opened.key as string;
    await c.call({ op: "connect", url });
    clients.push(c);
    storages.push(storage);
  }
  return { clients, key, storages };
}

/** Every client synced twice (the second round brings what others pushed during the first). */
async function syncAll(clients: ClientProcess[]): Promise<void> {
  for (let round = 0; round < 2; round++)
    for (const c of clients) await c.call({ op: "synced" });
}

/** Equal heads and docs everywhere; `outage`: errors were expected while a server was down. */
async function expectConverged(
  clients: ClientProcess[],
  docCount: number,
  outage = false,
): Promise<void> {
  const states = await Promise.all(clients.map((c) => c.call({ op: "state" })));
  for (const s of states) {
    expect(s.clock).toEqual(states[0]!.clock);
    expect(s.docs).toEqual(states[0]!.docs);
    if (!outage) expect(s.errors).toEqual([]);
    else
      for (const e of s.errors as string[])
        expect(e).toMatch(/^(TransportError|TimeoutError)/);
  }
  expect((states[0]!.docs as unknown[]).length).toBe(docCount);
}

describe("through `kiln serve`", () => {
  for (const count of [2, 5])
    it(`${count} client processes writing at once (same ids too) converge`, async () => {
      const data = await tempDir("kiln-serve-");
      const server = await startServer([
        "--port",
        "0",
        "--storage",
        pathToFileURL(data).href,
      ]);
      const { clients } = await openClients(count, server.url);
      await Promise.all(
        clients.flatMap((c, i) => [
          c.call({
            op: "put",
            prefix: "shared-",
            from: 0,
            count: 25,
            tag: `c${i}`,
          }),
          c.call({ op: "put", prefix: `own${i}-`, from: 0, count: 25 }),
        ]),
      );
      await syncAll(clients);
      await expectConverged(clients, 25 + 25 * count);
      for (const c of clients) await c.call({ op: "close" });
      await server.stop();
    });

  it("brings back a client that was offline for 10,000 writes of another", async () => {
    const data = await tempDir("kiln-serve-");
    const server = await startServer([
      "--port",
      "0",
      "--storage",
      pathToFileURL(data).href,
    ]);
    const { clients } = await openClients(2, server.url);
    const [a, b] = clients as [ClientProcess, ClientProcess];
    await syncAll(clients);
    await b.call({ op: "disconnect" });
    await b.call({ op: "put", prefix: "b-offline-", from: 0, count: 10 });
    await a.call({ op: "put", prefix: "a-", from: 0, count: 10_000 });
    await a.call({ op: "synced" });
    await b.call({ op: "connect", url: server.url });
    await syncAll(clients);
    await expectConverged(clients, 10_010);
    await server.stop();
  }, 120_000);

  it("keeps everything across a server restart (embedded backend)", async () => {
    const data = await tempDir("kiln-serve-");
    const args = ["--storage", pathToFileURL(data).href];
    let server = await startServer(["--port", "0", ...args]);
    const port = String(server.port);
    const { clients, key } = await openClients(2, server.url);
    const [a, b] = clients as [ClientProcess, ClientProcess];
    await a.call({ op: "put", prefix: "before-", from: 0, count: 50 });
    await syncAll(clients);
    await server.stop();
    // While the server is down, both keep writing.
    await a.call({ op: "put", prefix: "down-a-", from: 0, count: 20 });
    await b.call({ op: "put", prefix: "down-b-", from: 0, count: 20 });
    server = await startServer(["--port", port, ...args]);
    await syncAll(clients);
    await expectConverged(clients, 90, true);
    // A newcomer gets all of it from the restarted server alone.
    const late = startClient();
    await late.call({
      op: "open",
      name: "orders",
      storage: pathToFileURL(await tempDir("kiln-late-")).href,
      key,
    });
    await late.call({ op: "connect", url: server.url });
    await syncAll([late]);
    await expectConverged([...clients, late], 90, true);
    await server.stop();
  });

  it("delivers commits a killed client had not sent, once it restarts", async () => {
    const data = await tempDir("kiln-serve-");
    const args = ["--storage", pathToFileURL(data).href];
    let server = await startServer(["--port", "0", ...args]);
    const port = String(server.port);
    const { clients, storages, key } = await openClients(2, server.url);
    const [a, b] = clients as [ClientProcess, ClientProcess];
    await syncAll(clients);
    await server.stop();
    await a.call({ op: "put", prefix: "unsent-", from: 0, count: 100 });
    const before = await a.call({ op: "state" });
    expect(before.pending).toBe(100);
    await a.kill();
    server = await startServer(["--port", port, ...args]);
    const again = startClient();
    await again.call({ op: "open", name: "orders", storage: storages[0], key });
    await again.call({ op: "connect", url: server.url });
    await syncAll([again, b]);
    await expectConverged([again, b], 100, true);
    await server.stop();
  });
});
