// One putCommits batch against Postgres: bytes to the bucket first (when the backend keeps
// them there), then one transaction that records meta, moves the head set and sends the
// notices, all visible at COMMIT or not at all.
//
// Why heads are race-free across processes: a commit is a head iff no stored commit of its
// ledger names it as a parent. The transaction first locks its ledger's row (SELECT … FOR NO
// KEY UPDATE), so puts of one ledger run one after another in every process, and then reads
// the held commits and the heads in statements of their own: under READ COMMITTED each
// statement sees everything committed before it started, so after the lock they see every
// earlier put of the ledger. With that view the plan (plan-put.ts) is exact: a new commit
// cannot already have a stored child (a child needs its parent stored first), so each new
// commit is a head unless the batch names it, and its parents stop being heads. A
// serializable transaction with retries would also be correct, but would abort and redo
// work under exactly the load it must handle (many writers to one ledger); the row lock
// queues them instead and cannot deadlock, as a transaction locks one row only. Puts of
// different ledgers never wait for each other.
import type { ISql, Sql } from "postgres";
import { cidKey, cidString, type CID } from "../../../blocks/cid.js";
import { CorruptError, IoError } from "../../../util/errors.js";
import { encodeLedgerName } from "../../../util/ledger-name.js";
import type { StoredCommit } from "../../backend.js";
import { ledgerKey } from "../blob-store-key.js";
import { planPut, type PlannedCommit, type PutPlan } from "../plan-put.js";
import { byteaArray, type Bucket } from "./commit-reads.js";
import { decodeCidColumn, encodeParents } from "./commit-columns.js";
import { eachLimited } from "./each-limited.js";

export interface PutRequest {
  readonly ledger: string;
  /** Copied and verified against their CIDs by the caller. */
  readonly commits: readonly StoredCommit[];
  readonly bucket: Bucket | undefined;
  readonly channel: string;
  /** The NOTIFY payloads telling every process about these added commits. */
  readonly notices: (added: readonly string[]) => string[];
  /** Called once the batch is written, before COMMIT: what it will have done if it commits. */
  readonly onWritten: (result: PutResult) => void;
}

export interface PutResult {
  readonly heads: ReadonlyMap<string, CID>;
  readonly added: readonly PlannedCommit[];
}

/** How many bucket uploads one put runs at once. */
const UPLOADS = 8;

export async function putCommits(
  sql: Sql,
  request: PutRequest,
): Promise<PutResult> {
  const { ledger, commits, bucket } = request;
  const key = ledgerKey(ledger);
  const uploaded = bucket && (await upload(sql, request, bucket, key));
  return sql.begin(async (tx) => {
    const [, locked, heldRows, headRows] = await Promise.all([
      tx`INSERT INTO ledgers (key, name) VALUES (${key}, ${encodeLedgerName(ledger)})
         ON CONFLICT (key) DO NOTHING`,
      tx<{ id: string }[]>`
        SELECT id FROM ledgers WHERE key = ${key} FOR NO KEY UPDATE`,
      heldQuery(tx, key, commits),
      tx<{ cid: Uint8Array }[]>`
        SELECT h.cid FROM heads h JOIN ledgers l ON l.id = h.ledger_id WHERE l.key = ${key}`,
    ]);
    const id = locked[0]?.id;
    if (id === undefined)
      throw new CorruptError(`ledger ${key}`, "its row vanished");
    const heights = new Map(
      heldRows.map((r) => [cidKey(decodeCidColumn(r.cid, "commits")), r.height]),
    );
    const before = new Map<string, CID>();
    for (const r of headRows) {
      const cid = decodeCidColumn(r.cid, "heads");
      before.set(cidKey(cid), cid);
    }
    const plan = planPut(ledger, commits, (k) => heights.get(k), before);
    if (plan.added.length === 0) return { heads: before, added: [] };
    if (uploaded && plan.added.some(({ key: k }) => !uploaded.has(k)))
      // Commits are never deleted, so what was not held before the upload is still not;
      // this cannot happen unless something outside Kiln changed the tables.
      throw new IoError(`put commits of ${key}`, {
        cause: new Error("held commits changed during the put"),
      });
    await write(tx, id, plan, before, request);
    const result = { heads: plan.heads, added: plan.added };
    request.onWritten(result);
    return result;
  });
}

/**
 * The bytes of the commits not held yet go to the bucket before anything is recorded, so a
 * recorded commit always has its bytes; a put that fails later leaves only unreferenced
 * objects, which a retry overwrites with the same bytes. Missing parents are refused first,
 * before anything is uploaded.
 */
async function upload(
  sql: Sql,
  request: PutRequest,
  bucket: Bucket,
  key: string,
): Promise<Set<string>> {
  const held = await heldQuery(sql, key, request.commits);
  const heights = new Map(
    held.map((r) => [cidKey(decodeCidColumn(r.cid, "commits")), r.height]),
  );
  const plan = planPut(
    request.ledger,
    request.commits,
    (k) => heights.get(k),
    new Map(),
  );
  await eachLimited(plan.added, UPLOADS, async ({ key: k, commit }) => {
    await bucket.store.put(request.ledger, commit.cid, commit.bytes);
    bucket.cache.set(k, commit.bytes);
  });
  return new Set(plan.added.map((a) => a.key));
}

/** The held commits among a batch and the parents it names, with their heights. */
function heldQuery(sql: ISql, key: string, commits: readonly StoredCommit[]) {
  const asked = new Map<string, Uint8Array>();
  for (const c of commits) {
    asked.set(cidKey(c.cid), c.cid.bytes);
    for (const p of c.parents) asked.set(cidKey(p), p.bytes);
  }
  return sql<{ cid: Uint8Array; height: number }[]>`
    SELECT c.cid, c.height FROM commits c JOIN ledgers l ON l.id = c.ledger_id
    WHERE l.key = ${key} AND c.cid = ANY(${byteaArray(sql, [...asked.values()])}::bytea[])`;
}

/**
 * Inserts the commits, replaces the heads that changed and sends the notices, in one
 * statement (one round trip). Postgres queues the notices until COMMIT and drops them on
 * rollback, so other processes hear of exactly the puts that committed.
 */
async function write(
  tx: ISql,
  id: string,
  plan: PutPlan,
  before: ReadonlyMap<string, CID>,
  request: PutRequest,
): Promise<void> {
  const { added } = plan;
  const dropped = [...before.keys()].filter((k) => !plan.heads.has(k));
  const raised = [...plan.heads.keys()].filter((k) => !before.has(k));
  const inBucket = request.bucket !== undefined;
  const [row] = await tx<{ stored: number }[]>`
    WITH stored AS (
      INSERT INTO commits (ledger_id, cid, parents, height, bytes)
      SELECT ${id}, c.cid, c.parents, c.height, c.bytes
      FROM unnest(
        ${byteaArray(tx, added.map((a) => a.commit.cid.bytes))}::bytea[],
        ${byteaArray(tx, added.map((a) => encodeParents(a.commit.parents)))}::bytea[],
        ${tx.array(
          added.map((a) => a.height),
          1007,
        )}::int4[],
        ${tx.array(
          added.map((a) => (inBucket ? null : a.commit.bytes)),
          1001,
        )}::bytea[]
      ) AS c (cid, parents, height, bytes)
      ON CONFLICT DO NOTHING
      RETURNING 1
    ), dropped AS (
      DELETE FROM heads
      WHERE ledger_id = ${id} AND cid = ANY(${byteaArray(tx, dropped.map(keyBytes))}::bytea[])
      RETURNING 1
    ), raised AS (
      INSERT INTO heads (ledger_id, cid)
      SELECT ${id}, unnest(${byteaArray(tx, raised.map(keyBytes))}::bytea[])
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM stored)::int AS stored,
           (SELECT count(*) FROM (
              SELECT pg_notify(${request.channel}, p)
              FROM unnest(${tx.array(
                request.notices(added.map((a) => cidString(a.commit.cid))),
                1009,
              )}::text[]) AS p
            ) AS sent)::int AS notified`;
  if (row?.stored !== added.length)
    // The ledger's row lock makes this impossible short of a bug: roll back, store nothing.
    throw new CorruptError(
      `ledger ${request.ledger.slice(0, 64)}`,
      `put planned ${added.length} new commits but stored ${row?.stored}`,
    );
}

/** A cidKey back to the CID's bytes (one char per byte). */
function keyBytes(key: string): Uint8Array {
  return Buffer.from(key, "latin1");
}
