// End to end on the scale-out deployment (docs/deploy.md): three `kiln serve` processes on
// one Postgres, sync clients in their own processes, each given every server's URL. A server
// is killed mid-stream; Postgres and the bucket go away while clients write. Clients move
// on or retry from their outboxes; everything converges and nothing is lost.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  dropSchema,
  freshSchema,
  POSTGRES_URL,
  postgresUrl,
  requirePostgres,
} from "../fixtures/postgres.js";
import {
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  startS3Server,
} from "../fixtures/s3-server.js";
import type { S3TestServer } from "../fixtures/s3-server.js";
import { startSwitchProxy } from "../fixtures/switch-proxy.js";
import type { SwitchProxy } from "../fixtures/switch-proxy.js";
import { killAll, startClient, startServer } from "./processes.js";
import type { ClientProcess, ServerProcess } from "./processes.js";

const schemas: string[] = [];
const dirs: string[] = [];
const proxies: SwitchProxy[] = [];
let s3: S3TestServer | undefined;

afterEach(async () => {
  killAll();
  for (const p of proxies.splice(0)) await p.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
afterAll(async () => {
  await s3?.dispose();
  for (const s of schemas) await dropSchema(s);
});
beforeAll(async () => {
  await requirePostgres();
});

/** A Postgres URL for a fresh schema, optionally reached through a proxy that can be cut. */
function storageUrl(
  params: Record<string, string> = {},
  proxyPort?: number,
): string {
  const schema = freshSchema("scale");
  schemas.push(schema);
  const url = new URL(postgresUrl(schema, params));
  if (proxyPort !== undefined) {
    url.hostname = "127.0.0.1";
    url.port = String(proxyPort);
  }
  return url.href;
}

async function servers(
  count: number,
  storage: string,
): Promise<ServerProcess[]> {
  const out: ServerProcess[] = [];
  for (let i = 0; i < count; i++)
    out.push(await startServer(["--port", "0", "--storage", storage]));
  return out;
}

/** Client i is given every server URL, starting with server i mod count. */
async function clients(
  count: number,
  urls: string[],
): Promise<ClientProcess[]> {
  const out: ClientProcess[] = [];
  let key: string | undefined;
  for (let i = 0; i < count; i++) {
    const c = startClient();
    const dir = await mkdtemp(join(tmpdir(), "kiln-scale-client-"));
    dirs.push(dir);
    const opened = await c.call({
      op: "open",
      name: "orders",
      storage: pathToFileURL(dir).href,
      ...(key ? { key } : {}),
    });
    key = opened.key as string;
    const rotated = urls.map((_, j) => urls[(i + j) % urls.length]!);
    await c.call({ op: "connect", url: rotated });
    out.push(c);
  }
  return out;
}

async function syncAll(cs: ClientProcess[]): Promise<void> {
  for (let round = 0; round < 2; round++)
    for (const c of cs) await c.call({ op: "synced" });
}

async function expectConverged(
  cs: ClientProcess[],
  docCount: number,
): Promise<void> {
  const states = await Promise.all(cs.map((c) => c.call({ op: "state" })));
  for (const s of states) {
    expect(s.clock).toEqual(states[0]!.clock);
    expect(s.docs).toEqual(states[0]!.docs);
    expect(s.pending).toBe(0);
    // Errors are expected (a dead server, an outage); each must be a transport error or
    // a typed refusal the server sent while its storage was away.
    for (const e of s.errors as string[])
      expect(e).toMatch(
        /^(TransportError|TimeoutError|ProtocolError: unavailable)/,
      );
  }
  expect((states[0]!.docs as unknown[]).length).toBe(docCount);
}

/** Polls a client until it has reported at least one error (its remote is failing). */
async function untilError(c: ClientProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (
    (((await c.call({ op: "state" })).errors as string[]) ?? []).length === 0
  ) {
    if (Date.now() > deadline)
      throw new Error("the client never saw its remote fail");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("three kiln serve processes on one Postgres", () => {
  it("a server killed mid-stream: its clients move to another, converge, lose nothing", async () => {
    const procs = await servers(3, storageUrl());
    const cs = await clients(
      3,
      procs.map((p) => p.url),
    );
    const writes = cs.flatMap((c, i) => [
      c.call({
        op: "put",
        prefix: "shared-",
        from: 0,
        count: 60,
        tag: `c${i}`,
      }),
      c.call({ op: "put", prefix: `own${i}-`, from: 0, count: 60 }),
    ]);
    // Server one dies while every client is writing (client 0 is connected to it).
    await procs[0]!.stop("SIGKILL");
    await Promise.all(writes);
    await syncAll(cs);
    await expectConverged(cs, 60 + 3 * 60);
    // Client 0 did lose its server (and moved on): its connection said so.
    const { errors } = await cs[0]!.call({ op: "state" });
    expect((errors as string[]).length).toBeGreaterThan(0);
  });

  it("a write through process 1 reaches WebSocket and HTTP subscribers on processes 2 and 3 live", async () => {
    const procs = await servers(3, storageUrl());
    const [writer] = await clients(1, [procs[0]!.url]);
    const { key } = await writer!.call({ op: "key" });
    const subscribers: ClientProcess[] = [];
    for (const url of [
      `${procs[1]!.url}?transport=ws`,
      `${procs[2]!.url}?transport=http`,
    ]) {
      const c = startClient();
      const dir = await mkdtemp(join(tmpdir(), "kiln-scale-sub-"));
      dirs.push(dir);
      await c.call({
        op: "open",
        name: "orders",
        storage: pathToFileURL(dir).href,
        key,
      });
      await c.call({ op: "connect", url });
      await c.call({ op: "synced" });
      subscribers.push(c);
    }
    await writer!.call({ op: "put", prefix: "live-", from: 0, count: 1 });
    // Neither subscriber is asked to sync: the write comes to them through Postgres.
    await Promise.all(
      subscribers.map((c) => c.call({ op: "waitFor", id: "live-0" })),
    );
    const states = await Promise.all(
      subscribers.map((c) => c.call({ op: "state" })),
    );
    expect(states.map((s) => s.transport)).toEqual(["ws", "http"]);
  });

  it("Postgres going away while clients write: outboxes retry, nothing acknowledged is lost", async () => {
    const pg = new URL(POSTGRES_URL);
    const proxy = await startSwitchProxy(Number(pg.port || 5432), pg.hostname);
    proxies.push(proxy);
    const procs = await servers(3, storageUrl({}, proxy.port));
    const cs = await clients(
      3,
      procs.map((p) => p.url),
    );
    await Promise.all(
      cs.map((c, i) =>
        c.call({ op: "put", prefix: `before${i}-`, from: 0, count: 20 }),
      ),
    );
    await syncAll(cs);
    // Every connection to Postgres is dropped and new ones refused (a restart, seen from
    // the servers). The clients write on; their pushes are refused as unavailable.
    await proxy.cut();
    await Promise.all(
      cs.map((c, i) =>
        c.call({ op: "put", prefix: `during${i}-`, from: 0, count: 30 }),
      ),
    );
    await untilError(cs[0]!);
    await proxy.restore();
    await syncAll(cs);
    await expectConverged(cs, 3 * 20 + 3 * 30);
  });

  it("the bucket refusing writes for a while: nothing corrupt stored, all delivered after", async () => {
    s3 ??= await startS3Server();
    const procs = await servers(
      2,
      storageUrl({
        blobs: `s3://${s3.bucket}/scale-${Date.now()}`,
        "s3-endpoint": s3.endpoint,
        "s3-access-key": S3_ACCESS_KEY,
        "s3-secret-key": S3_SECRET_KEY,
      }),
    );
    const cs = await clients(
      2,
      procs.map((p) => p.url),
    );
    await cs[0]!.call({ op: "put", prefix: "before-", from: 0, count: 10 });
    await syncAll(cs);
    await s3.stop();
    await cs[0]!.call({ op: "put", prefix: "during-", from: 0, count: 25 });
    await untilError(cs[0]!);
    await s3.start();
    await syncAll(cs);
    await expectConverged(cs, 35);
  });
});
