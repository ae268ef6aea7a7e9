// The backend conformance suite against a real Postgres: commit bytes in Postgres, and commit
// bytes in a real S3-protocol server (s3rver) started here.
import { afterAll, beforeAll } from "vitest";
import { describeBackendConformance } from "../../src/server/backend-conformance.js";
import type { Backend } from "../../src/server/backend.js";
import { ledgerKey } from "../../src/server/backends/blob-store-key.js";
import { openPostgresBackend } from "../../src/server/backends/postgres/postgres-backend.js";
import { parsePostgresUrl } from "../../src/server/backends/postgres/postgres-url.js";
import { createS3BlobStore } from "../../src/server/backends/s3-blob-store.js";
import type { CID } from "../../src/blocks/cid.js";
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

const inPostgres = freshSchema("conf_pg");
const inBucket = freshSchema("conf_s3");
let s3: S3TestServer | undefined;

beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.dispose();
  await Promise.all([dropSchema(inPostgres), dropSchema(inBucket)]);
});

const open = async (url: () => string) => {
  await requirePostgres();
  return openPostgresBackend(url());
};
const bucketUrl = () =>
  postgresUrl(inBucket, {
    blobs: `s3://${s3!.bucket}/commits`,
    "s3-endpoint": s3!.endpoint,
    "s3-access-key": S3_ACCESS_KEY,
    "s3-secret-key": S3_SECRET_KEY,
  });

/** The ledger's row (its commits, heads and snapshot rows reference it: foreign keys). */
const rowsOf = (schema: string) => async (_: Backend, ledger: string) => {
  const rows = await withClient(
    (sql) =>
      sql`SELECT id FROM ${sql(schema)}.ledgers WHERE key = ${ledgerKey(ledger)}`,
  );
  return rows.map((r) => `ledgers row ${String(r.id)}`);
};

describeBackendConformance(
  "postgres, bytes in postgres",
  () => open(() => postgresUrl(inPostgres)),
  {
    reopen: () => open(() => postgresUrl(inPostgres)),
    leftovers: rowsOf(inPostgres),
    storedBytes: async (_, ledger) => {
      const [row] = await withClient(
        (sql) => sql`
          SELECT coalesce(sum(octet_length(c.bytes)), 0)::int AS size
          FROM ${sql(inPostgres)}.commits c
          JOIN ${sql(inPostgres)}.ledgers l ON l.id = c.ledger_id
          WHERE l.key = ${ledgerKey(ledger)}`,
      );
      return Number(row!.size);
    },
  },
);
describeBackendConformance(
  "postgres, bytes in an s3 bucket",
  () => open(bucketUrl),
  {
    reopen: () => open(bucketUrl),
    leftovers: async (b, ledger, commits: readonly CID[]) => {
      const config = parsePostgresUrl(bucketUrl());
      if (config.blobs.kind !== "s3") throw new Error("expected a bucket");
      const store = createS3BlobStore(config.blobs.location);
      const objects: string[] = [];
      for (const cid of commits)
        if (await store.has(ledger, cid))
          objects.push(`object ${cid.toString()}`);
      return [...(await rowsOf(inBucket)(b, ledger)), ...objects];
    },
  },
);
