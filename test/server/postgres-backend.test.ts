// The Postgres backend beyond the conformance suite, against a real Postgres and a real
// S3-protocol server: migrations, where bytes live, integrity both ways, and watchers of one
// backend hearing another's puts.
import { AwsClient } from "aws4fetch";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../src/server/backend.js";
import { openPostgresBackend } from "../../src/server/backends/postgres/postgres-backend.js";
import { blobKey } from "../../src/server/backends/blob-store-key.js";
import {
  makeTestChain,
  makeTestCommit,
} from "../../src/server/backends/test-commits.js";
import {
  dropSchema,
  freshSchema,
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
import { cidTexts, recordChanges } from "../fixtures/watch-recorder.js";
import { InvalidUrlError } from "../../src/util/errors.js";

const schema = freshSchema("pg");
const schemas = [schema];
let s3: S3TestServer;
const opened: Backend[] = [];

beforeAll(async () => {
  s3 = await startS3Server();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((b) => b.close()));
});
afterAll(async () => {
  await s3?.dispose();
  await Promise.all(schemas.map(dropSchema));
});

const bucketParams = () => ({
  blobs: `s3://${s3.bucket}/kiln`,
  "s3-endpoint": s3.endpoint,
  "s3-access-key": S3_ACCESS_KEY,
  "s3-secret-key": S3_SECRET_KEY,
});
async function open(url = postgresUrl(schema)): Promise<Backend> {
  // In every test, not in beforeAll: without Postgres each test fails, none is skipped.
  await requirePostgres();
  const backend = await openPostgresBackend(url);
  opened.push(backend);
  return backend;
}
const fresh = (label: string) => `${label}-${crypto.randomUUID()}`;

describe("postgres backend: opening", () => {
  it("rejects a URL it cannot use with InvalidUrlError, before connecting", async () => {
    const attempt = openPostgresBackend(
      "postgres://u:hunter2@127.0.0.1:1/test?fsync=1",
    );
    await expect(attempt).rejects.toBeInstanceOf(InvalidUrlError);
    await expect(attempt).rejects.toThrow(/unknown parameter "fsync"/);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });
});

describe("postgres backend: migrations", () => {
  it("applies each migration once when several processes open a new schema at once", async () => {
    const name = freshSchema("mig");
    schemas.push(name);
    await Promise.all(Array.from({ length: 4 }, () => open(postgresUrl(name))));
    await open(postgresUrl(name));
    const rows = await withClient(
      (sql) =>
        sql`SELECT version, name FROM ${sql(name)}.kiln_migrations ORDER BY version`,
    );
    expect(rows.map((r) => ({ ...r }))).toEqual([
      { version: 1, name: "init" },
      { version: 2, name: "snapshots" },
      { version: 3, name: "revoked_tokens" },
      { version: 4, name: "dropped_commits" },
      { version: 5, name: "stored_bytes" },
    ]);
  });

  it("refuses to open a schema whose applied migration was edited, or is newer", async () => {
    const name = freshSchema("mig");
    schemas.push(name);
    await open(postgresUrl(name));
    await withClient(
      (sql) =>
        sql`UPDATE ${sql(name)}.kiln_migrations SET checksum = 'edited' WHERE version = 1`,
    );
    const edited = openPostgresBackend(postgresUrl(name));
    await expect(edited).rejects.toMatchObject({ code: "corrupt" });
    await expect(edited).rejects.toThrow(/differs from the one applied/);
    const other = freshSchema("mig");
    schemas.push(other);
    await open(postgresUrl(other));
    await withClient(
      (sql) =>
        sql`INSERT INTO ${sql(other)}.kiln_migrations (version, name, checksum) VALUES (99, 'future', 'x')`,
    );
    const newer = openPostgresBackend(postgresUrl(other));
    await expect(newer).rejects.toMatchObject({ code: "corrupt" });
    await expect(newer).rejects.toThrow(/newer than this kiln knows/);
  });
});

describe("postgres backend: bytes", () => {
  it("keeps bytes in the bucket and only meta in Postgres when blobs=s3", async () => {
    const b = await open(postgresUrl(schema, bucketParams()));
    const ledger = fresh("bucket");
    const chain = await makeTestChain(3);
    await b.putCommits(ledger, chain);
    const [row] = await withClient(
      (sql) => sql`
        SELECT count(*)::int AS n, count(c.bytes)::int AS with_bytes
        FROM ${sql(schema)}.commits c JOIN ${sql(schema)}.ledgers l ON l.id = c.ledger_id
        WHERE l.name = ${encodeURIComponent(ledger)}`,
    );
    expect({ ...row }).toEqual({ n: 3, with_bytes: 0 });
    const s3Client = client();
    for (const c of chain) {
      const response = await s3Client.fetch(objectUrl(ledger, c.cid));
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(c.bytes);
    }
  });

  it("refuses bytes that do not hash to their CID and stores nothing", async () => {
    const b = await open();
    const ledger = fresh("mismatch");
    const c = await makeTestCommit();
    const forged = {
      ...c,
      bytes: c.bytes.map((x, i) => (i === 40 ? x ^ 1 : x)),
    };
    await expect(b.putCommits(ledger, [forged])).rejects.toMatchObject({
      reason: "cid-mismatch",
    });
    expect(await b.getMeta(ledger, [c.cid])).toEqual([undefined]);
    expect(await b.getHeads(ledger)).toEqual([]);
  });

  it("never serves bytes damaged in Postgres", async () => {
    const b = await open();
    const ledger = fresh("damaged-row");
    const [c] = await makeTestChain(1);
    await b.putCommits(ledger, [c!]);
    await withClient(
      (sql) => sql`
        UPDATE ${sql(schema)}.commits SET bytes = ${Buffer.from("not the commit")}
        WHERE cid = ${Buffer.from(c!.cid.bytes)}`,
    );
    await expect(b.getCommits(ledger, [c!.cid])).rejects.toMatchObject({
      code: "integrity",
    });
  });

  it("never serves bytes damaged in the bucket", async () => {
    const url = postgresUrl(schema, bucketParams());
    const writer = await open(url);
    const ledger = fresh("damaged-object");
    const [c] = await makeTestChain(1);
    await writer.putCommits(ledger, [c!]);
    const put = await client().fetch(objectUrl(ledger, c!.cid), {
      method: "PUT",
      body: new TextEncoder().encode("not the commit"),
    });
    expect(put.status).toBe(200);
    // Another backend: the writer keeps the bytes it wrote in memory.
    const reader = await open(url);
    await expect(reader.getCommits(ledger, [c!.cid])).rejects.toMatchObject({
      code: "integrity",
    });
  });
});

describe("postgres backend: watchers of another backend", () => {
  it("hear a put with its heads and bytes, and no origin", async () => {
    const [writer, reader] = await Promise.all([open(), open()]);
    const ledger = fresh("watched");
    const seen = recordChanges(reader, ledger);
    const [a, c] = await makeTestChain(2);
    await writer.putCommits(ledger, [a!, c!], { client: 1 });
    const change = await seen.until((x) => x.added.length > 0, "the put");
    expect(cidTexts(change.added)).toEqual(cidTexts([a!.cid, c!.cid]));
    expect(cidTexts(change.heads)).toEqual([c!.cid.toString()]);
    expect("origin" in change).toBe(false);
    expect(change.commits?.map((x) => x.bytes)).toEqual([a!.bytes, c!.bytes]);
    seen.stop();
  });

  it("hear a put of 400 commits, sent over several notices, as one change in order", async () => {
    const [writer, reader] = await Promise.all([open(), open()]);
    const ledger = fresh("é".repeat(300)); // a long name: its key is hashed
    const seen = recordChanges(reader, ledger);
    const chain = await makeTestChain(400, [], 64);
    await writer.putCommits(ledger, chain);
    const change = await seen.until((x) => x.added.length > 0, "the put");
    expect(cidTexts(change.added)).toEqual(cidTexts(chain.map((c) => c.cid)));
    expect(cidTexts(change.heads)).toEqual([chain[399]!.cid.toString()]);
    expect(seen.changes).toHaveLength(1);
    seen.stop();
  });
});

function client(): AwsClient {
  return new AwsClient({
    accessKeyId: S3_ACCESS_KEY,
    secretAccessKey: S3_SECRET_KEY,
    service: "s3",
    region: "us-east-1",
  });
}

function objectUrl(ledger: string, cid: Parameters<typeof blobKey>[2]): string {
  const key = blobKey("kiln", ledger, cid)
    .split("/")
    .map(encodeURIComponent)
    .join("/");
  return `${s3.endpoint}/${s3.bucket}/${key}`;
}
