// The reads of a Postgres backend: heads, meta and bytes of one ledger, each one query
// (`cid = ANY($cids)`, never a query per commit). Ledgers are found by key in the same query,
// so an unknown ledger reads as empty and nothing is created by reading. Bytes are verified
// against their CID whether they come from a row or the bucket: corrupt bytes are an
// IntegrityError, never served, never "not held".
import type { ISql, Sql } from "postgres";
import { cidKey, type CID } from "../../../blocks/cid.js";
import { CorruptError, IntegrityError } from "../../../util/errors.js";
import type { CommitMeta, StoredCommit } from "../../backend.js";
import { ledgerKey } from "../blob-store-key.js";
import type { BlobStore } from "../blob-store.js";
import type { ByteCache } from "../byte-cache.js";
import { sortedHeads } from "../plan-put.js";
import { eachLimited } from "./each-limited.js";
import {
  decodeCidColumn,
  decodeParents,
  matchesCid,
} from "./commit-columns.js";

/** The bucket of a backend that keeps bytes there, with recently moved bytes in memory. */
export interface Bucket {
  readonly store: BlobStore;
  /** Verified bytes by cidKey, shared: copied before they are handed out. */
  readonly cache: ByteCache;
}

/** How many bucket reads one call runs at once. */
const BUCKET_READS = 16;

/** A bytea[] parameter (postgres.js cannot infer an array of byte strings). */
export function byteaArray(
  sql: ISql,
  items: readonly Uint8Array[],
): ReturnType<ISql["array"]> {
  return sql.array([...items], 1001);
}

export async function readHeads(sql: Sql, ledger: string): Promise<CID[]> {
  const key = ledgerKey(ledger);
  const rows = await sql<{ cid: Uint8Array }[]>`
    SELECT h.cid FROM heads h JOIN ledgers l ON l.id = h.ledger_id WHERE l.key = ${key}`;
  const heads = new Map<string, CID>();
  for (const row of rows) {
    const cid = decodeCidColumn(row.cid, "heads");
    heads.set(cidKey(cid), cid);
  }
  return sortedHeads(heads);
}

/** The ledger's stored commit bytes (ledgers.stored_bytes); 0 for an unknown ledger. */
export async function readStoredBytes(
  sql: Sql,
  ledger: string,
): Promise<number> {
  const rows = await sql<{ stored: string }[]>`
    SELECT stored_bytes::text AS stored FROM ledgers WHERE key = ${ledgerKey(ledger)}`;
  return rows[0] ? Number(rows[0].stored) : 0;
}

export async function readMeta(
  sql: Sql,
  ledger: string,
  cids: readonly CID[],
): Promise<(CommitMeta | undefined)[]> {
  if (cids.length === 0) return [];
  const key = ledgerKey(ledger);
  const rows = await sql<
    { cid: Uint8Array; parents: Uint8Array; height: number; dropped: boolean }[]
  >`
    SELECT c.cid, c.parents, c.height, c.dropped
    FROM commits c JOIN ledgers l ON l.id = c.ledger_id
    WHERE l.key = ${key} AND c.cid = ANY(${byteaArray(sql, unique(cids))}::bytea[])`;
  const found = new Map<string, CommitMeta>();
  for (const row of rows) {
    const subject = "commit meta";
    const meta = {
      parents: decodeParents(row.parents, subject),
      height: row.height,
    };
    found.set(
      cidKey(decodeCidColumn(row.cid, subject)),
      row.dropped ? { ...meta, dropped: true } : meta,
    );
  }
  return cids.map((cid) => {
    const meta = found.get(cidKey(cid));
    return meta && { ...meta, parents: [...meta.parents] };
  });
}

/** The commits held of `cids`, with parents and verified bytes, in the order asked. */
export async function readCommits(
  sql: Sql,
  ledger: string,
  cids: readonly CID[],
  bucket: Bucket | undefined,
): Promise<(StoredCommit | undefined)[]> {
  if (cids.length === 0) return [];
  const key = ledgerKey(ledger);
  const rows = await sql<
    { cid: Uint8Array; parents: Uint8Array; bytes: Uint8Array | null }[]
  >`
    SELECT c.cid, c.parents, c.bytes
    FROM commits c JOIN ledgers l ON l.id = c.ledger_id
    WHERE l.key = ${key} AND NOT c.dropped
      AND c.cid = ANY(${byteaArray(sql, unique(cids))}::bytea[])`;
  const found = new Map<string, StoredCommit>();
  const fromBucket: { cid: CID; parents: CID[] }[] = [];
  for (const row of rows) {
    const cid = decodeCidColumn(row.cid, "commits");
    const parents = decodeParents(row.parents, `commit ${cid.toString()}`);
    if (row.bytes === null) {
      fromBucket.push({ cid, parents });
      continue;
    }
    const bytes = new Uint8Array(row.bytes);
    if (!matchesCid(cid, bytes)) throw new IntegrityError(cid.toString());
    found.set(cidKey(cid), { cid, parents, bytes });
  }
  if (fromBucket.length > 0) {
    if (!bucket)
      throw new CorruptError(
        `commit ${fromBucket[0]!.cid.toString()}`,
        "its bytes are kept in a bucket: open the backend with blobs=s3://…",
      );
    await eachLimited(fromBucket, BUCKET_READS, async ({ cid, parents }) => {
      found.set(cidKey(cid), {
        cid,
        parents,
        bytes: await readBucket(bucket, ledger, cid),
      });
    });
  }
  return cids.map((cid) => {
    const commit = found.get(cidKey(cid));
    return (
      commit && {
        cid: commit.cid,
        parents: [...commit.parents],
        bytes: new Uint8Array(commit.bytes),
      }
    );
  });
}

/**
 * Drops the bytes of the ledger's commits among `cids` that still have them: with a bucket,
 * their objects are deleted first (a failure part way leaves rows that still name what is
 * left, and a retry finds it), then the rows lose their bytes and are marked dropped.
 */
export async function dropCommitRows(
  sql: Sql,
  ledger: string,
  cids: readonly CID[],
  bucket: Bucket | undefined,
): Promise<number> {
  if (cids.length === 0) return 0;
  const key = ledgerKey(ledger);
  const wanted = byteaArray(sql, unique(cids));
  if (bucket) {
    const rows = await sql<{ cid: Uint8Array }[]>`
      SELECT c.cid FROM commits c JOIN ledgers l ON l.id = c.ledger_id
      WHERE l.key = ${key} AND NOT c.dropped AND c.bytes IS NULL
        AND c.cid = ANY(${wanted}::bytea[])`;
    await eachLimited(rows, BUCKET_READS, async (row) => {
      const cid = decodeCidColumn(row.cid, "commits");
      await bucket.store.delete(ledger, cid);
      bucket.cache.delete(cidKey(cid));
    });
  }
  // The ledger's stored bytes lose what is dropped, in the same statement (quota).
  const [dropped] = await sql<{ count: number }[]>`
    WITH d AS (
      UPDATE commits c SET bytes = NULL, dropped = true
      FROM ledgers l
      WHERE l.id = c.ledger_id AND l.key = ${key} AND NOT c.dropped
        AND c.cid = ANY(${wanted}::bytea[])
      RETURNING c.ledger_id, coalesce(c.size, 0) AS size
    ), counted AS (
      UPDATE ledgers l
      SET stored_bytes = l.stored_bytes - (SELECT sum(size) FROM d)
      WHERE l.key = ${key} AND EXISTS (SELECT 1 FROM d)
    )
    SELECT count(*)::int AS count FROM d`;
  return dropped?.count ?? 0;
}

async function readBucket(
  bucket: Bucket,
  ledger: string,
  cid: CID,
): Promise<Uint8Array> {
  const key = cidKey(cid);
  const cached = bucket.cache.get(key);
  if (cached) return cached;
  const bytes = await bucket.store.get(ledger, cid);
  if (!bytes)
    throw new CorruptError(
      `commit ${cid.toString()}`,
      `recorded, but its bytes are missing from ${bucket.store.description}`,
    );
  if (!matchesCid(cid, bytes)) throw new IntegrityError(cid.toString());
  bucket.cache.set(key, bytes);
  return bytes;
}

function unique(cids: readonly CID[]): Uint8Array[] {
  const seen = new Map<string, Uint8Array>();
  for (const cid of cids) seen.set(cidKey(cid), cid.bytes);
  return [...seen.values()];
}
