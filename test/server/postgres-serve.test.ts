// End to end on the scale-out backend: three `kiln serve` processes on one Postgres (commit
// bytes in an S3-protocol bucket), sync clients in their own processes spread over them.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  killAll,
  startClient,
  startServer,
  type ClientProcess,
} from "../sync/processes.js";
import {
  dropSchema,
  freshSchema,
  postgresUrl,
  requirePostgres,
} from "../fixtures/postgres.js";
import {
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  startS3Server,
  type S3TestServer,
} from "../fixtures/s3-server.js";

const schema = freshSchema("serve");
const dirs: string[] = [];
let s3: S3TestServer;

beforeAll(async () => {
  s3 = await startS3Server();
});
afterEach(async () => {
  killAll();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
afterAll(async () => {
  await s3?.dispose();
  await dropSchema(schema);
});

async function client(url: string, key?: string): Promise<ClientProcess> {
  const c = startClient();
  const dir = await mkdtemp(join(tmpdir(), "kiln-pg-client-"));
  dirs.push(dir);
  await c.call({
    op: "open",
    name: "orders",
    storage: pathToFileURL(dir).href,
    ...(key ? { key } : {}),
  });
  await c.call({ op: "connect", url });
  return c;
}

/** Asks `c` for its docs until `done` holds or the time is up (each ask is a real round trip). */
async function until(
  c: ClientProcess,
  done: (docs: [string, unknown][]) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { docs } = await c.call({ op: "state" });
    if (done(docs as [string, unknown][])) return;
    if (Date.now() > deadline) throw new Error(`client never saw ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("kiln serve on postgres://", () => {
  it("clients on three server processes converge, and a write on one reaches the others live", async () => {
    await requirePostgres();
    const storage = postgresUrl(schema, {
      blobs: `s3://${s3.bucket}/serve`,
      "s3-endpoint": s3.endpoint,
      "s3-access-key": S3_ACCESS_KEY,
      "s3-secret-key": S3_SECRET_KEY,
    });
    // One process first applies the migrations, so the others find the schema ready.
    const first = await startServer(["--port", "0", "--storage", storage]);
    const servers = [
      first,
      ...(await Promise.all(
        [0, 1].map(() => startServer(["--port", "0", "--storage", storage])),
      )),
    ];
    const a = await client(servers[0]!.url);
    const { key } = await a.call({ op: "key" });
    const b = await client(servers[1]!.url, key as string);
    const c = await client(servers[2]!.url, key as string);
    const clients = [a, b, c];
    await Promise.all(
      clients.map((x, i) =>
        x.call({ op: "put", prefix: `c${i}-`, from: 0, count: 20 }),
      ),
    );
    for (let round = 0; round < 2; round++)
      for (const x of clients) await x.call({ op: "synced" });
    const states = await Promise.all(
      clients.map((x) => x.call({ op: "state" })),
    );
    for (const s of states) {
      expect(s.clock).toEqual(states[0]!.clock);
      expect(s.docs).toEqual(states[0]!.docs);
      expect(s.errors).toEqual([]);
    }
    expect((states[0]!.docs as unknown[]).length).toBe(60);
    // Live: c is not asked to sync; the write reaches it through server 1 → Postgres →
    // server 3's subscription.
    await a.call({ op: "put", prefix: "live-", from: 0, count: 1 });
    await until(
      c,
      (docs) => docs.some(([id]) => id === "live-0"),
      "the live write",
    );
    for (const x of clients) await x.call({ op: "close" });
    await Promise.all(servers.map((s) => s.stop()));
  });
});
