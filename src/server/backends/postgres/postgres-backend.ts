// postgres:// — the scale-out backend: any number of stateless `kiln serve` processes share one
// Postgres, which holds every ledger's commit meta and head set (and, by default, the commit
// bytes; with ?blobs=s3://… those go to a bucket) and carries the fan-out between processes
// with LISTEN/NOTIFY. The schema is in migrations/*.sql; put-commits.ts says why head updates
// are race-free; change-feed.ts how watchers hear of every process's puts. docs/deploy.md
// describes a deployment.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import type { CID } from "../../../blocks/cid.js";
import { ProtocolError } from "../../../sync/protocol/error.js";
import { SerialQueue } from "../../../util/serial-queue.js";
import { ClosedError } from "../../../util/errors.js";
import { checkLedgerName } from "../../../util/ledger-name.js";
import type {
  Backend,
  DirectUploads,
  LedgerChange,
  StoredCommit,
} from "../../backend.js";
import { ByteCache } from "../byte-cache.js";
import { sortedHeads } from "../plan-put.js";
import { createS3BlobStore } from "../s3-blob-store.js";
import { ChangeFeed } from "./change-feed.js";
import { matchesCid } from "./commit-columns.js";
import {
  dropCommitRows,
  readCommits,
  readHeads,
  readStoredBytes,
  readMeta,
  type Bucket,
} from "./commit-reads.js";
import { eachLimited } from "./each-limited.js";
import { encodeLedgerNotices } from "./ledger-notice.js";
import { migrate, readMigrations } from "./migrate.js";
import { NoticeListener } from "./notice-listener.js";
import { PostgresRevocations } from "./postgres-revocations.js";
import { databaseError } from "./postgres-error.js";
import { putCommits, type PutResult } from "./put-commits.js";
import {
  parsePostgresUrl,
  type PostgresBackendConfig,
  type PostgresUrlDefaults,
} from "./postgres-url.js";
import { ledgerKey } from "../blob-store-key.js";
import {
  deleteLedgerRows,
  readSnapshot,
  writeSnapshot,
} from "./snapshot-rows.js";

export interface PostgresBackendOptions extends PostgresUrlDefaults {
  /**
   * Told of failures in the background, which the backend recovers from by itself: a lost
   * LISTEN connection (and each failed attempt to listen again), an unreadable notice, a
   * change made elsewhere that could not be read. Default: ignored.
   */
  readonly onError?: (error: Error) => void;
  /** Bytes of recently moved bucket objects kept in memory (default 16 MiB). */
  readonly cacheBytes?: number;
}

/** Most commits of another process's change whose bytes are loaded for the watchers. */
const LOADED_PER_CHANGE = 64;

/**
 * Opens the backend a `postgres://…` URL describes (postgres-url.ts has its parameters),
 * applying migrations first. Rejects with InvalidUrlError for a URL it cannot use, and with
 * ProtocolError("unavailable") when Postgres does not answer.
 */
export async function openPostgresBackend(
  url: string,
  options: PostgresBackendOptions = {},
): Promise<Backend> {
  return openWithConfig(parsePostgresUrl(url, options), options);
}

async function openWithConfig(
  config: PostgresBackendConfig,
  options: PostgresBackendOptions,
): Promise<Backend> {
  const { connection, schema } = config;
  const onError = (error: Error): void => {
    try {
      options.onError?.(error);
    } catch {
      // A failing logger must not stop the listener's loop or become an unhandled rejection.
    }
  };
  const base: postgres.Options<Record<string, never>> = {
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    ...(connection.password !== undefined
      ? { password: connection.password }
      : {}),
    ssl: connection.ssl === "disable" ? false : connection.ssl,
    connect_timeout: connection.connectTimeoutSeconds,
    // Notices (e.g. "schema already exists") are not news to a server log.
    onnotice: () => undefined,
    connection: {
      application_name: connection.applicationName,
      search_path: schema,
    },
  };
  const sql = postgres({ ...base, max: connection.poolSize });
  const bucket: Bucket | undefined =
    config.blobs.kind === "s3"
      ? {
          store: createS3BlobStore(config.blobs.location),
          cache: new ByteCache(options.cacheBytes ?? 16 << 20),
        }
      : undefined;
  const subject = `postgres backend ${connection.host}:${connection.port}/${connection.database} schema ${schema}`;
  const channel = `${schema}_ledger`;
  const sender = randomBytes(6).toString("hex");

  let listener: NoticeListener | undefined;
  let revocations: PostgresRevocations | undefined;
  try {
    await migrate(sql, schema, await readMigrations());
    const feed = new ChangeFeed({
      sender,
      read: async (ledger, added) => {
        const [heads, commits] = await Promise.all([
          readHeads(sql, ledger),
          added.length > 0 && added.length <= LOADED_PER_CHANGE
            ? readCommits(sql, ledger, added, bucket)
            : undefined,
        ]);
        return commits?.every((c) => c !== undefined)
          ? { heads, commits }
          : { heads };
      },
      onError,
    });
    listener = await NoticeListener.open({
      connection: {
        ...base,
        connection: {
          ...base.connection,
          application_name: `${connection.applicationName} listen`,
        },
      },
      channel,
      onNotice: (payload) => feed.onNotice(payload),
      onRelisten: () => feed.onRelisten(),
      onError,
    });
    revocations = await PostgresRevocations.open(
      sql,
      {
        ...base,
        max: 1,
        connection: {
          ...base.connection,
          application_name: `${connection.applicationName} revocations`,
        },
      },
      schema,
      onError,
    );
    const directUploadMin =
      config.blobs.kind === "s3" ? config.blobs.directUploadMin : undefined;
    return createBackend({
      sql,
      bucket,
      feed,
      listener,
      channel,
      subject,
      directUploadMin,
      revocations,
    });
  } catch (error) {
    await revocations?.close();
    await listener?.close();
    await sql.end({ timeout: 1 });
    throw databaseError(`open ${subject}`, error);
  }
}

interface BackendParts {
  readonly sql: postgres.Sql;
  readonly bucket: Bucket | undefined;
  readonly feed: ChangeFeed;
  readonly listener: NoticeListener;
  readonly channel: string;
  readonly subject: string;
  /** Offer direct uploads of commits this large (bucket only); undefined: do not. */
  readonly directUploadMin: number | undefined;
  readonly revocations: PostgresRevocations;
}

function createBackend(parts: BackendParts): Backend {
  const { sql, bucket, feed, listener, channel, subject } = parts;
  const running = new Set<Promise<unknown>>();
  // Puts of one ledger from this process go one at a time: run together they would only make
  // each other's compare-and-swap fail and retry (put-commits.ts). Other processes' puts
  // of the ledger can still win one; that costs a retry.
  const putQueues = new Map<string, { queue: SerialQueue; count: number }>();
  let closed: Promise<void> | undefined;

  /** Runs an operation unless closed, and lets close() wait for it. */
  const run = <T>(
    operation: string,
    ledger: string,
    body: () => Promise<T>,
  ): Promise<T> => {
    if (closed) return Promise.reject(new ClosedError(subject));
    // Runs synchronously up to body()'s first await: a put copies its bytes before that.
    const promise = (async () => {
      checkLedgerName(operation, ledger);
      try {
        return await body();
      } catch (error) {
        throw databaseError(
          `${operation} of ${JSON.stringify(ledger.slice(0, 64))}`,
          error,
        );
      }
    })();
    running.add(promise);
    void promise.then(
      () => running.delete(promise),
      () => running.delete(promise),
    );
    return promise;
  };

  const queued = <T>(ledger: string, task: () => Promise<T>): Promise<T> => {
    let entry = putQueues.get(ledger);
    if (!entry)
      putQueues.set(ledger, (entry = { queue: new SerialQueue(), count: 0 }));
    entry.count++;
    const done = entry;
    return entry.queue.run(task).finally(() => {
      if (--done.count === 0 && putQueues.get(ledger) === done)
        putQueues.delete(ledger);
    });
  };

  const put = async (
    ledger: string,
    given: readonly StoredCommit[],
    origin: unknown,
    quota: number | undefined,
  ): Promise<{ heads: CID[]; added: CID[] }> => {
    const commits = given.map((c) => {
      // Copied before anything awaits: the caller may reuse its buffer once this returns.
      const bytes = new Uint8Array(c.bytes);
      if (!matchesCid(c.cid, bytes))
        throw new ProtocolError(
          "cid-mismatch",
          `put commits: bytes do not hash to ${c.cid.toString()}`,
        );
      return {
        cid: c.cid,
        bytes,
        parents: [...c.parents],
        ...(c.uploaded ? { uploaded: true } : {}),
      };
    });
    return queued(ledger, async () => {
      const seq = feed.begin();
      let written: PutResult | undefined;
      const changeOf = (result: PutResult): LedgerChange => {
        const heads = sortedHeads(result.heads);
        const added = result.added.map((a) => a.commit.cid);
        const stored = result.added.map((a) => a.commit);
        return origin === undefined
          ? { heads, added, commits: stored }
          : { heads, added, commits: stored, origin };
      };
      try {
        const result = await putCommits(sql, {
          ledger,
          commits,
          bucket,
          channel,
          notices: (added) =>
            encodeLedgerNotices(feed.sender, seq, ledgerKey(ledger), added),
          onWriting: (r) => (written = r),
          quota,
        });
        const heads = sortedHeads(result.heads);
        if (result.added.length > 0)
          feed.committed(seq, ledger, changeOf(result));
        else feed.failed(seq, ledger, undefined);
        return { heads, added: result.added.map((a) => a.commit.cid) };
      } catch (error) {
        feed.failed(seq, ledger, written && changeOf(written));
        throw error;
      }
    });
  };

  const uploads = directUploads(parts, run);
  return {
    ...(uploads ? { uploads } : {}),
    putCommits: (ledger, commits, origin, quota) =>
      run("put commits", ledger, () => put(ledger, commits, origin, quota)),

    getCommits: (ledger, cids) =>
      run("get commits", ledger, async () =>
        (await readCommits(sql, ledger, cids, bucket)).map((c) => c?.bytes),
      ),

    getMeta: (ledger, cids) =>
      run("get meta", ledger, () => readMeta(sql, ledger, cids)),

    getHeads: (ledger) =>
      run("get heads", ledger, () => readHeads(sql, ledger)),

    storedBytes: (ledger) =>
      run("count stored bytes", ledger, () => readStoredBytes(sql, ledger)),

    putSnapshot: (ledger, snapshot) =>
      run("put snapshot", ledger, () => writeSnapshot(sql, ledger, snapshot)),

    getSnapshot: (ledger) =>
      run("get snapshot", ledger, () => readSnapshot(sql, ledger)),

    dropCommits: (ledger, cids) =>
      run("drop commits", ledger, () =>
        queued(ledger, () => dropCommitRows(sql, ledger, cids, bucket)),
      ),

    deleteLedger: (ledger) =>
      run("delete ledger", ledger, () =>
        queued(ledger, () => deleteLedgerRows(sql, ledger, bucket)),
      ),

    watch(ledger, onChange) {
      if (closed) throw new ClosedError(subject);
      checkLedgerName("watch", ledger);
      return feed.watch(ledger, onChange);
    },

    async revokeToken(id) {
      if (closed) throw new ClosedError(subject);
      return parts.revocations.revoke(id);
    },

    async revokedTokens() {
      if (closed) throw new ClosedError(subject);
      return parts.revocations.list();
    },

    watchRevocations(onRevoked) {
      if (closed) throw new ClosedError(subject);
      return parts.revocations.watch(onRevoked);
    },

    close() {
      closed ??= (async () => {
        await Promise.allSettled([...running]);
        feed.close();
        await parts.revocations.close();
        await listener.close();
        // Nothing runs any more; the timeout is for postgres.js, whose end() can wait
        // forever for a connection that failed during an outage.
        await sql.end({ timeout: 1 });
        bucket?.cache.clear();
      })();
      return closed;
    },
  };
}

/** Most uploaded objects read back at once for one push. */
const UPLOAD_READS = 8;

/**
 * Direct uploads to the bucket, when the backend keeps bytes there and the URL asked for
 * them: presigned PUTs to the commit's own key (`<prefix>/<ledger key>/<cid>`), so a commit
 * uploaded directly sits exactly where a pushed one would, and recording it (put-commits.ts)
 * writes nothing more to the bucket.
 */
function directUploads(
  parts: BackendParts,
  run: <T>(
    operation: string,
    ledger: string,
    body: () => Promise<T>,
  ) => Promise<T>,
): DirectUploads | undefined {
  const { bucket, directUploadMin } = parts;
  const store = bucket?.store;
  const presign = store?.presignUpload?.bind(store);
  if (!store || !presign || directUploadMin === undefined) return undefined;
  return {
    minBytes: directUploadMin,
    presign: (ledger, commits) =>
      run("presign uploads", ledger, () =>
        Promise.all(commits.map((c) => presign(ledger, c.cid, c.size))),
      ),
    read: (ledger, cids, maxBytes) =>
      run("read uploaded commits", ledger, async () => {
        // Straight from the bucket, never from the cache: the cache holds verified bytes,
        // and these are not verified yet.
        const found: (Uint8Array | undefined)[] = cids.map(() => undefined);
        await eachLimited([...cids.keys()], UPLOAD_READS, async (at) => {
          found[at] = await store.get(ledger, cids[at]!, maxBytes);
        });
        return found;
      }),
  };
}
