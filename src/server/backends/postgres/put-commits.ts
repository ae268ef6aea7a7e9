// One putCommits batch against Postgres: bytes to the bucket first (when the backend keeps
// them there), then one statement that records meta, moves the head set and sends the
// notices — one implicit transaction, visible at its end or not at all.
//
// Why heads are race-free across processes: a commit is a head iff no stored commit of its
// ledger names it as a parent. A put reads, in one statement (one snapshot), its ledger's
// `version`, the heads, and which of its commits and their parents are held; plans in memory
// (plan-put.ts: with that view the plan is exact, as a new commit cannot already have a
// stored child); and writes with a compare-and-swap: the statement's first step is
// `UPDATE ledgers SET version = version + 1 WHERE id = … AND version = <read>`, and every
// other step (commits, heads, notices) joins on its result. If any put of the ledger
// committed in between, or commits while this one waits for the row, Postgres re-checks
// the row and the UPDATE matches nothing: nothing is written, and the put reads and plans
// again. Puts of different ledgers never touch the same row.
//
// Why not BEGIN … SELECT … FOR UPDATE … COMMIT: four round trips instead of two, a pooled
// connection held while JavaScript plans, and postgres.js 3.4.9 can crash the process with
// an uncatchable TypeError when a connection dies inside sql.begin() (porsager/postgres
// #1208, unfixed in the newest release): Postgres restarting must not take servers down. A
// single statement runs on a plain pooled connection. Why not SERIALIZABLE with retries:
// the same retries, and more aborts (reads of other ledgers' index pages conflict too).
import type { ISql, Sql } from "postgres";
import { cidKey, cidString, type CID } from "../../../blocks/cid.js";
import { ProtocolError } from "../../../sync/protocol/error.js";
import { backoffDelay, sleep } from "../../../util/backoff.js";
import { CorruptError } from "../../../util/errors.js";
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
  /**
   * Called before each write is sent, with what it does if it commits: when its answer is
   * lost with the connection, the caller may still learn that it committed.
   */
  readonly onWriting: (result: PutResult) => void;
  /** The most commit bytes the ledger may hold (Backend.putCommits); undefined: none. */
  readonly quota: number | undefined;
}

export interface PutResult {
  readonly heads: ReadonlyMap<string, CID>;
  readonly added: readonly PlannedCommit[];
}

/** How many bucket uploads one put runs at once. */
const UPLOADS = 8;
/** Writes lost to other processes' puts of the same ledger before giving up for now. */
const ATTEMPTS = 100;

export async function putCommits(
  sql: Sql,
  request: PutRequest,
): Promise<PutResult> {
  const { ledger, commits, bucket } = request;
  const key = ledgerKey(ledger);
  const asked = askedCids(commits);
  const uploaded = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    const state = await readState(sql, key, asked);
    const plan = planPut(
      ledger,
      commits,
      (k) => state.heights.get(k),
      state.heads,
      { held: state.ledger?.storedBytes ?? 0, max: request.quota },
    );
    if (plan.added.length === 0) return { heads: state.heads, added: [] };
    // Bytes first, so a recorded commit always has them. A put that fails later leaves
    // objects nothing refers to, which a retry overwrites with the same bytes.
    if (bucket) await upload(bucket, ledger, plan.added, uploaded);
    if (!state.ledger) {
      await sql`INSERT INTO ledgers (key, name) VALUES (${key}, ${encodeLedgerName(ledger)})
                ON CONFLICT (key) DO NOTHING`;
      continue;
    }
    const result = { heads: plan.heads, added: plan.added };
    request.onWriting(result);
    if (await write(sql, state.ledger, plan, state.heads, request))
      return result;
    if (attempt >= ATTEMPTS)
      throw new ProtocolError(
        "unavailable",
        `put commits of ledger ${JSON.stringify(ledger.slice(0, 64))}: other puts of it won ${attempt} times in a row; try again`,
      );
    // Another process's put of this ledger won: plan again on what it stored. Back off a
    // little after a few, so writers that keep colliding drift apart.
    if (attempt > 3)
      await sleep(backoffDelay(attempt - 3, { baseMs: 2, maxMs: 100 }));
  }
}

interface LedgerRow {
  readonly id: string;
  readonly version: string;
  /** Commit bytes held, as of `version`. */
  readonly storedBytes: number;
}

interface LedgerState {
  readonly ledger: LedgerRow | undefined;
  readonly heads: ReadonlyMap<string, CID>;
  /** Heights of the held commits among those asked, by cidKey. */
  readonly heights: ReadonlyMap<string, number>;
}

/** The ledger's row, heads and held commits among `asked`, from one snapshot. */
async function readState(
  sql: ISql,
  key: string,
  asked: readonly Uint8Array[],
): Promise<LedgerState> {
  const rows = await sql<
    {
      kind: "ledger" | "head" | "held";
      id: string | null;
      version: string | null;
      cid: Uint8Array | null;
      height: number | null;
      stored: string | null;
    }[]
  >`
    SELECT 'ledger' AS kind, l.id::text AS id, l.version::text AS version,
           NULL::bytea AS cid, NULL::int AS height, l.stored_bytes::text AS stored
    FROM ledgers l WHERE l.key = ${key}
    UNION ALL
    SELECT 'head', NULL, NULL, h.cid, NULL, NULL
    FROM heads h JOIN ledgers l ON l.id = h.ledger_id WHERE l.key = ${key}
    UNION ALL
    SELECT 'held', NULL, NULL, c.cid, c.height, NULL
    FROM commits c JOIN ledgers l ON l.id = c.ledger_id
    WHERE l.key = ${key} AND c.cid = ANY(${byteaArray(sql, asked)}::bytea[])`;
  let ledger: LedgerState["ledger"];
  const heads = new Map<string, CID>();
  const heights = new Map<string, number>();
  for (const row of rows) {
    if (row.kind === "ledger")
      ledger = {
        id: row.id!,
        version: row.version!,
        storedBytes: Number(row.stored!),
      };
    else if (row.kind === "head") {
      const cid = decodeCidColumn(row.cid!, "heads");
      heads.set(cidKey(cid), cid);
    } else
      heights.set(cidKey(decodeCidColumn(row.cid!, "commits")), row.height!);
  }
  return { ledger, heads, heights };
}

/**
 * The compare-and-swap write: moves the version, inserts the commits, replaces the heads
 * that changed and sends the notices, or — when the version moved since the read — does
 * nothing. Postgres queues the notices until the statement commits and drops them if it
 * does not, so other processes hear of exactly the puts that committed. True if it wrote.
 */
async function write(
  sql: ISql,
  ledger: LedgerRow,
  plan: PutPlan,
  before: ReadonlyMap<string, CID>,
  request: PutRequest,
): Promise<boolean> {
  const { added } = plan;
  const dropped = [...before.keys()].filter((k) => !plan.heads.has(k));
  const raised = [...plan.heads.keys()].filter((k) => !before.has(k));
  const inBucket = request.bucket !== undefined;
  const notices = request.notices(added.map((a) => cidString(a.commit.cid)));
  let rows: { bumped: number; stored: number; notified: number }[];
  try {
    rows = await sql<{ bumped: number; stored: number; notified: number }[]>`
      WITH bumped AS (
        UPDATE ledgers
        SET version = version + 1, stored_bytes = stored_bytes + ${plan.bytes}
        WHERE id = ${ledger.id} AND version = ${ledger.version}
        RETURNING id
      ), stored AS (
        INSERT INTO commits (ledger_id, cid, parents, height, bytes, size)
        SELECT b.id, c.cid, c.parents, c.height, c.bytes, c.size
        FROM bumped b, unnest(
          ${byteaArray(
            sql,
            added.map((a) => a.commit.cid.bytes),
          )}::bytea[],
          ${byteaArray(
            sql,
            added.map((a) => encodeParents(a.commit.parents)),
          )}::bytea[],
          ${sql.array(
            added.map((a) => a.height),
            1007,
          )}::int4[],
          ${sql.array(
            added.map((a) => (inBucket ? null : a.commit.bytes)),
            1001,
          )}::bytea[],
          ${sql.array(
            added.map((a) => a.commit.bytes.length),
            1007,
          )}::int4[]
        ) AS c (cid, parents, height, bytes, size)
        ON CONFLICT DO NOTHING
        RETURNING 1
      ), dropped AS (
        DELETE FROM heads h USING bumped b
        WHERE h.ledger_id = b.id AND h.cid = ANY(${byteaArray(sql, dropped.map(keyBytes))}::bytea[])
        RETURNING 1
      ), raised AS (
        INSERT INTO heads (ledger_id, cid)
        SELECT b.id, r.cid FROM bumped b, unnest(${byteaArray(sql, raised.map(keyBytes))}::bytea[]) AS r (cid)
        RETURNING 1
      ), notified AS (
        SELECT pg_notify(${request.channel}, p.payload)
        FROM bumped, unnest(${sql.array(notices, 1009)}::text[]) AS p (payload)
      ), counts AS (
        SELECT (SELECT count(*) FROM bumped)::int AS bumped,
               (SELECT count(*) FROM stored)::int AS stored,
               (SELECT count(*) FROM notified)::int AS notified
      )
      -- A write that moved the version stored every commit it planned and sent every
      -- notice, or it fails (division by zero) and rolls back: its version check makes
      -- anything else a bug. (The check also keeps "notified" in use: Postgres never
      -- computes an unused column, nor the pg_notify calls behind it.)
      SELECT bumped, stored, notified,
             1 / (CASE WHEN bumped = 0
                         OR (stored = ${added.length} AND notified = ${notices.length})
                       THEN 1 ELSE 0 END) AS checked
      FROM counts`;
  } catch (error) {
    if (isDivisionByZero(error))
      throw new CorruptError(
        `ledger ${JSON.stringify(request.ledger.slice(0, 64))}`,
        `a put planned ${added.length} new commits and ${notices.length} notices but its write did not match; nothing was stored`,
        { cause: error },
      );
    throw error;
  }
  return rows[0]?.bumped === 1;
}

async function upload(
  bucket: Bucket,
  ledger: string,
  added: readonly PlannedCommit[],
  uploaded: Set<string>,
): Promise<void> {
  const pending = added.filter((a) => !uploaded.has(a.key));
  await eachLimited(pending, UPLOADS, async ({ key, commit }) => {
    // A commit a client uploaded directly is in the bucket under this very key already,
    // read back and verified by the server.
    if (!commit.uploaded)
      await bucket.store.put(ledger, commit.cid, commit.bytes);
    bucket.cache.set(key, commit.bytes);
    uploaded.add(key);
  });
}

/** The CIDs of a batch and of the parents it names, once each. */
function askedCids(commits: readonly StoredCommit[]): Uint8Array[] {
  const asked = new Map<string, Uint8Array>();
  for (const c of commits) {
    asked.set(cidKey(c.cid), c.cid.bytes);
    for (const p of c.parents) asked.set(cidKey(p), p.bytes);
  }
  return [...asked.values()];
}

/** A cidKey back to the CID's bytes (one char per byte). */
function keyBytes(key: string): Uint8Array {
  return Buffer.from(key, "latin1");
}

function isDivisionByZero(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    error.code === "22012"
  );
}
