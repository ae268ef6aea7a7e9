// `postgres://user:password@host:port/database?…` parsed once into typed options: the only
// place that reads the storage URL. Unknown parameters are refused, so a typo is an error
// at start, not a setting silently ignored.
//
//   schema=kiln                where the tables live (a fresh one per test run)
//   blobs=postgres             commit bytes in Postgres (the default), or
//   blobs=s3://bucket/prefix   commit bytes in an S3-compatible bucket, with
//     s3-endpoint=http://127.0.0.1:9000   (default https://s3.<region>.amazonaws.com)
//     s3-region=…                         (default: the caller's, else us-east-1)
//     s3-access-key=…&s3-secret-key=…    (default: the caller's, e.g. AWS_* from the CLI)
//     s3-direct-upload=262144             offer clients presigned uploads of commits of at
//                                         least this many bytes (default: not offered)
//   pool-size=10               connections for queries (one more listens)
//   connect-timeout=10         seconds to wait for a connection
//   sslmode=disable|prefer|require|verify-full
//   application_name=kiln      shown in pg_stat_activity (the listener adds " listen")
import { InvalidUrlError } from "../../../util/errors.js";

export type SslMode = "disable" | "prefer" | "require" | "verify-full";

export interface PostgresConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string | undefined;
  readonly ssl: SslMode;
  readonly applicationName: string;
  readonly poolSize: number;
  readonly connectTimeoutSeconds: number;
}

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface S3Location {
  readonly bucket: string;
  /** Key prefix without a trailing slash; may be empty. */
  readonly prefix: string;
  /** Base URL of the S3 API; objects are addressed path-style below it. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: S3Credentials;
}

export type BlobPlacement =
  | { readonly kind: "postgres" }
  | {
      readonly kind: "s3";
      readonly location: S3Location;
      /**
       * Smallest commit, in bytes, that clients may upload to the bucket themselves through
       * a presigned URL; undefined: direct uploads are not offered. Off by default because
       * clients must then reach the bucket's endpoint, which is often internal.
       */
      readonly directUploadMin?: number;
    };

export interface PostgresBackendConfig {
  readonly connection: PostgresConnection;
  readonly schema: string;
  readonly blobs: BlobPlacement;
}

/** What the URL may leave to the caller (the CLI passes what the environment says). */
export interface PostgresUrlDefaults {
  /** Database user when the URL names none (libpq uses PGUSER, else the OS user). */
  readonly user?: string;
  /** Bucket credentials when the URL has no s3-access-key / s3-secret-key. */
  readonly s3Credentials?: S3Credentials;
  /** Bucket region when the URL has no s3-region. */
  readonly s3Region?: string;
}

const PARAMS = new Set([
  "schema",
  "blobs",
  "s3-endpoint",
  "s3-region",
  "s3-access-key",
  "s3-secret-key",
  "s3-direct-upload",
  "pool-size",
  "connect-timeout",
  "sslmode",
  "application_name",
]);
const SSL_MODES: readonly SslMode[] = [
  "disable",
  "prefer",
  "require",
  "verify-full",
];
// A schema name is also the prefix of the NOTIFY channel "<schema>_ledger", and both are
// identifiers of at most 63 bytes.
const SCHEMA = /^[a-z_][a-z0-9_]{0,47}$/;

export function parsePostgresUrl(
  text: string,
  defaults: PostgresUrlDefaults = {},
): PostgresBackendConfig {
  const shown = redactStorageUrl(text);
  const fail = (detail: string): never => {
    throw new InvalidUrlError(shown, detail);
  };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail("not a URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:")
    fail("not a postgres:// URL");
  const params = url.searchParams;
  for (const name of new Set(params.keys())) {
    if (!PARAMS.has(name))
      fail(
        `unknown parameter ${JSON.stringify(name)} (known: ${[...PARAMS].join(", ")})`,
      );
    if (params.getAll(name).length > 1)
      fail(`parameter ${JSON.stringify(name)} given twice`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (database === "" || database.includes("/"))
    fail("name one database in the path: postgres://host/database");
  const user = url.username
    ? decodeURIComponent(url.username)
    : (defaults.user ?? fail("name a user: postgres://user@host/database"));
  const schema = params.get("schema") ?? "kiln";
  if (!SCHEMA.test(schema))
    fail(
      `schema must be a lowercase identifier of at most 48 characters, not ${JSON.stringify(schema)}`,
    );
  const ssl = params.get("sslmode") ?? "disable";
  if (!isSslMode(ssl))
    fail(`sslmode must be one of ${SSL_MODES.join(", ")}, not ${ssl}`);
  const connection: PostgresConnection = {
    host: url.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: url.port === "" ? 5432 : Number(url.port),
    database,
    user,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    ssl: ssl as SslMode,
    applicationName: params.get("application_name") ?? "kiln",
    poolSize: integer(params.get("pool-size"), 10, 1, 1000, "pool-size", fail),
    connectTimeoutSeconds: integer(
      params.get("connect-timeout"),
      10,
      1,
      3600,
      "connect-timeout",
      fail,
    ),
  };
  return { connection, schema, blobs: parseBlobs(params, defaults, fail) };
}

function parseBlobs(
  params: URLSearchParams,
  defaults: PostgresUrlDefaults,
  fail: (detail: string) => never,
): BlobPlacement {
  const blobs = params.get("blobs") ?? "postgres";
  const s3Params = [...params.keys()].filter((k) => k.startsWith("s3-"));
  if (blobs === "postgres") {
    if (s3Params.length > 0)
      fail(`${s3Params.join(", ")} given without blobs=s3://bucket/prefix`);
    return { kind: "postgres" };
  }
  let target: URL;
  try {
    target = new URL(blobs);
  } catch {
    return fail(
      `blobs must be postgres or s3://bucket/prefix, not ${JSON.stringify(blobs)}`,
    );
  }
  if (target.protocol !== "s3:" || target.hostname === "")
    fail(
      `blobs must be postgres or s3://bucket/prefix, not ${JSON.stringify(blobs)}`,
    );
  if (target.search !== "" || target.hash !== "")
    fail("blobs=s3://bucket/prefix takes no query or fragment");
  const region = params.get("s3-region") ?? defaults.s3Region ?? "us-east-1";
  const endpoint =
    params.get("s3-endpoint") ?? `https://s3.${region}.amazonaws.com`;
  let endpointUrl: URL;
  try {
    endpointUrl = new URL(endpoint);
  } catch {
    return fail(`s3-endpoint is not a URL: ${JSON.stringify(endpoint)}`);
  }
  if (endpointUrl.protocol !== "http:" && endpointUrl.protocol !== "https:")
    fail("s3-endpoint must be an http:// or https:// URL");
  const accessKeyId = params.get("s3-access-key");
  const secretAccessKey = params.get("s3-secret-key");
  if ((accessKeyId === null) !== (secretAccessKey === null))
    fail("give both s3-access-key and s3-secret-key, or neither");
  const credentials =
    accessKeyId !== null && secretAccessKey !== null
      ? { accessKeyId, secretAccessKey }
      : (defaults.s3Credentials ??
        fail(
          "no bucket credentials: pass s3-access-key and s3-secret-key, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ));
  const direct = params.get("s3-direct-upload");
  return {
    kind: "s3",
    ...(direct !== null
      ? {
          directUploadMin: integer(
            direct,
            0,
            0,
            Number.MAX_SAFE_INTEGER,
            "s3-direct-upload",
            fail,
          ),
        }
      : {}),
    location: {
      bucket: decodeURIComponent(target.hostname),
      prefix: decodeURIComponent(target.pathname).replace(/^\/+|\/+$/g, ""),
      endpoint: endpointUrl.href.replace(/\/+$/, ""),
      region,
      credentials,
    },
  };
}

function integer(
  text: string | null,
  fallback: number,
  min: number,
  max: number,
  name: string,
  fail: (detail: string) => never,
): number {
  if (text === null) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    fail(`${name} must be an integer from ${min} to ${max}, not ${text}`);
  return n;
}

function isSslMode(text: string): text is SslMode {
  return (SSL_MODES as readonly string[]).includes(text);
}

/** The URL with its password and bucket secret replaced by "***", for messages and logs. */
export function redactStorageUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not a URL: keep nothing that might be a secret after a "password-like" position.
    return text.replace(/:[^:@/]*@/, ":***@");
  }
  if (url.password) url.password = "***";
  if (url.searchParams.has("s3-secret-key"))
    url.searchParams.set("s3-secret-key", "***");
  return url.href;
}
