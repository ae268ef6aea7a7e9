// The backend conformance suite against a real Postgres: commit bytes in Postgres, and commit
// bytes in a real S3-protocol server (s3rver) started here.
import { afterAll, beforeAll } from "vitest";
import { describeBackendConformance } from "../../src/server/backend-conformance.js";
import { openPostgresBackend } from "../../src/server/backends/postgres/postgres-backend.js";
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

describeBackendConformance(
  "postgres, bytes in postgres",
  () => open(() => postgresUrl(inPostgres)),
  { reopen: () => open(() => postgresUrl(inPostgres)) },
);
describeBackendConformance(
  "postgres, bytes in an s3 bucket",
  () => open(bucketUrl),
  { reopen: () => open(bucketUrl) },
);
