// History let go, with real processes: `kiln serve` (embedded backend in a temp folder) and
// two client processes. A publishes a snapshot with retain "snapshot" while B's process is
// down with unsent writes on top of the history the server then drops; B's next process
// starts from the snapshot, and its writes merge: nothing lost on either side.
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, expect, it } from "vitest";
import { killAll, startClient, startServer } from "./processes.js";

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

/** Bytes of the server's commit logs. */
async function logBytes(data: string): Promise<number> {
  let size = 0;
  for (const f of await readdir(join(data, "ledgers")))
    size += (await stat(join(data, "ledgers", f))).size;
  return size;
}

it("a client offline across a retain reconnects, starts from the snapshot, and its writes merge", async () => {
  const data = await tempDir("kiln-retain-");
  const server = await startServer([
    "--port",
    "0",
    "--storage",
    pathToFileURL(data).href,
  ]);
  const a = startClient();
  const { key } = (await a.call({
    op: "open",
    name: "orders",
    storage: pathToFileURL(await tempDir("kiln-a-")).href,
  })) as { key: string };
  await a.call({ op: "connect", url: server.url });
  await a.call({ op: "put", prefix: "early-", from: 0, count: 40 });
  await a.call({ op: "synced" });

  const bStorage = pathToFileURL(await tempDir("kiln-b-")).href;
  let b = startClient();
  await b.call({ op: "open", name: "orders", storage: bStorage, key });
  await b.call({ op: "connect", url: server.url });
  await b.call({ op: "synced" });
  await b.call({ op: "disconnect" });
  // Offline, on top of what the server is about to let go: new docs, a doc A writes too, a
  // deletion. Then B's process ends; its writes wait in its storage.
  await b.call({ op: "put", prefix: "b-", from: 0, count: 5 });
  await b.call({ op: "put", prefix: "early-", from: 3, count: 1, tag: "b" });
  await b.call({ op: "del", id: "early-7" });
  await b.call({ op: "close" });

  await a.call({ op: "put", prefix: "late-", from: 0, count: 20 });
  await a.call({ op: "put", prefix: "early-", from: 3, count: 1, tag: "a" });
  await a.call({ op: "synced" });
  const before = await logBytes(data);
  await a.call({ op: "publish", retain: true });
  const after = await logBytes(data);
  // 61 commits of ~400 bytes each became husks of ~80.
  expect(after).toBeLessThan(before / 2);

  b = startClient();
  await b.call({ op: "open", name: "orders", storage: bStorage, key });
  await b.call({ op: "connect", url: server.url });
  await b.call({ op: "synced" });
  await a.call({ op: "synced" });
  const onA = await a.call({ op: "state" });
  const onB = await b.call({ op: "state" });
  expect(onB.docs).toEqual(onA.docs);
  expect(onB.clock).toEqual(onA.clock);
  expect(onB.errors).toEqual([]);
  const ids = (onA.docs as [string, unknown][]).map(([id]) => id);
  expect(ids).toHaveLength(40 + 20 + 5 - 1);
  expect(ids).toContain("b-4");
  expect(ids).toContain("late-19");
  expect(ids).not.toContain("early-7");
  await server.stop();
}, 60_000);
