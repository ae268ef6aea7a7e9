// The Postgres backend when things fail: its LISTEN connection killed, Postgres unreachable
// for a while (a proxy cut in front of the shared server, which keeps running for other
// tests), the bucket refusing writes. Operations reject with a typed error, nothing is stored
// in part, the process does not crash, and everything works again afterwards.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../src/server/backend.js";
import {
  openPostgresBackend,
  type PostgresBackendOptions,
} from "../../src/server/backends/postgres/postgres-backend.js";
import {
  makeTestChain,
  makeTestCommit,
} from "../../src/server/backends/test-commits.js";
import { ProtocolError } from "../../src/sync/protocol/error.js";
import {
  dropSchema,
  freshSchema,
  POSTGRES_URL,
  postgresUrl,
  requirePostgres,
  withClient,
} from "../fixtures/postgres.js";
import {
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  startS3Server,
  type S3TestServer,
} from "../fixtures/s3-server.js";
import {
  startSwitchProxy,
  type SwitchProxy,
} from "../fixtures/switch-proxy.js";
import { cidTexts, recordChanges } from "../fixtures/watch-recorder.js";

const schema = freshSchema("faults");
let s3: S3TestServer;
let proxy: SwitchProxy;
const opened: Backend[] = [];

beforeAll(async () => {
  s3 = await startS3Server();
  const target = new URL(POSTGRES_URL);
  proxy = await startSwitchProxy(Number(target.port || 5432), target.hostname);
});
afterEach(async () => {
  await proxy.restore();
  await s3.start();
  await Promise.all(opened.splice(0).map((b) => b.close()));
});
afterAll(async () => {
  await proxy?.close();
  await s3?.dispose();
  await dropSchema(schema);
});

async function open(
  url = postgresUrl(schema),
  options: PostgresBackendOptions = {},
): Promise<Backend> {
  // In every test, not in beforeAll: without Postgres each test fails, none is skipped.
  await requirePostgres();
  const backend = await openPostgresBackend(url, options);
  opened.push(backend);
  return backend;
}
const viaProxy = (params: Record<string, string> = {}) => {
  const url = new URL(postgresUrl(schema, params));
  url.port = String(proxy.port);
  return url.href;
};
const fresh = (label: string) => `${label}-${crypto.randomUUID()}`;
const unavailable = { reason: "unavailable" };

describe("postgres backend: LISTEN connection", () => {
  it("listens again after its connection is terminated, and goes on hearing puts", async () => {
    const app = `kiln-test-${crypto.randomUUID().slice(0, 8)}`;
    const errors: Error[] = [];
    const [writer, reader] = await Promise.all([
      open(),
      open(postgresUrl(schema, { application_name: app }), {
        onError: (e) => errors.push(e),
      }),
    ]);
    const ledger = fresh("relisten");
    const seen = recordChanges(reader, ledger);
    const [a, c] = await makeTestChain(2);
    await writer.putCommits(ledger, [a!]);
    await seen.until((x) => x.added.length > 0, "the first put");
    const [killed] = await withClient(
      (sql) => sql`
        SELECT count(*)::int AS n FROM (
          SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = ${`${app} listen`}
        ) AS t`,
    );
    expect(killed?.n).toBe(1);
    // After listening again the reader reports the heads, which it may have missed.
    await seen.until(
      (x) =>
        x.added.length === 0 && cidTexts(x.heads).includes(a!.cid.toString()),
      "the re-read after listening again",
    );
    await writer.putCommits(ledger, [c!]);
    const later = await seen.until(
      (x) => cidTexts(x.added).includes(c!.cid.toString()),
      "a put after listening again",
    );
    expect(cidTexts(later.heads)).toEqual([c!.cid.toString()]);
    expect(errors.some((e) => e instanceof ProtocolError)).toBe(true);
    seen.stop();
  });
});

describe("postgres backend: Postgres unreachable", () => {
  it("rejects with unavailable, stores nothing, and catches up when Postgres is back", async () => {
    const [writer, reader] = await Promise.all([open(), open(viaProxy())]);
    const ledger = fresh("outage");
    const [root, next, after] = await makeTestChain(3);
    await reader.putCommits(ledger, [root!]);
    const seen = recordChanges(reader, ledger);
    await proxy.cut();
    await expect(reader.getHeads(ledger)).rejects.toMatchObject(unavailable);
    await expect(reader.getCommits(ledger, [root!.cid])).rejects.toMatchObject(
      unavailable,
    );
    await expect(reader.putCommits(ledger, [next!])).rejects.toMatchObject(
      unavailable,
    );
    // What the reader could not store is not there in part; the writer carries on.
    expect(cidTexts(await writer.getHeads(ledger))).toEqual(
      cidTexts([root!.cid]),
    );
    await writer.putCommits(ledger, [next!]);
    await proxy.restore();
    // The reader was deaf when `next` was put: it hears of it by re-reading the heads.
    await seen.until(
      (x) => cidTexts(x.heads).includes(next!.cid.toString()),
      "the heads after the outage",
    );
    const done = await reader.putCommits(ledger, [after!], "retry");
    expect(cidTexts(done.heads)).toEqual(cidTexts([after!.cid]));
    expect(cidTexts(await writer.getHeads(ledger))).toEqual(
      cidTexts([after!.cid]),
    );
    seen.stop();
  });

  it("refuses to open with unavailable when Postgres does not answer", async () => {
    await proxy.cut();
    await expect(
      openPostgresBackend(viaProxy({ "connect-timeout": "2" })),
    ).rejects.toMatchObject(unavailable);
  });
});

describe("postgres backend: a bucket refusing writes", () => {
  const bucketUrl = (endpoint: string) =>
    postgresUrl(schema, {
      blobs: `s3://${s3.bucket}/faults`,
      "s3-endpoint": endpoint,
      "s3-access-key": S3_ACCESS_KEY,
      "s3-secret-key": S3_SECRET_KEY,
    });

  it("rejects with unavailable while the bucket is down, records nothing, and works after", async () => {
    const b = await open(bucketUrl(s3.endpoint));
    const ledger = fresh("bucket-down");
    const [root, next] = await makeTestChain(2);
    await b.putCommits(ledger, [root!]);
    await s3.stop();
    const attempt = b.putCommits(ledger, [next!]);
    await expect(attempt).rejects.toBeInstanceOf(ProtocolError);
    await expect(attempt).rejects.toMatchObject(unavailable);
    expect(await b.getMeta(ledger, [next!.cid])).toEqual([undefined]);
    expect(cidTexts(await b.getHeads(ledger))).toEqual(cidTexts([root!.cid]));
    await s3.start();
    await b.putCommits(ledger, [next!]);
    expect(cidTexts(await b.getHeads(ledger))).toEqual(cidTexts([next!.cid]));
    expect((await b.getCommits(ledger, [next!.cid]))[0]).toEqual(next!.bytes);
  });

  it("rejects with unavailable when the bucket's port refuses connections", async () => {
    const b = await open(bucketUrl("http://127.0.0.1:1"));
    const ledger = fresh("bucket-dead");
    const c = await makeTestCommit();
    await expect(b.putCommits(ledger, [c])).rejects.toMatchObject(unavailable);
    expect(await b.getMeta(ledger, [c.cid])).toEqual([undefined]);
    expect(await b.getHeads(ledger)).toEqual([]);
  });
});
