// A Postgres backend's snapshots: one row per ledger in `snapshots` (migrations/002), bytes
// in the row even when commits live in a bucket (one object per ledger, replaced in place).
// Read back, the bytes are checked against their CID, like commits.
import type { Sql } from "postgres";
import type { CID } from "../../../blocks/cid.js";
import { IntegrityError } from "../../../util/errors.js";
import { encodeLedgerName } from "../../../util/ledger-name.js";
import type { StoredSnapshot } from "../../backend.js";
import type { BlobStore } from "../blob-store.js";
import { ledgerKey } from "../blob-store-key.js";
import {
  decodeCidColumn,
  decodeParents,
  encodeParents,
  matchesCid,
} from "./commit-columns.js";

export async function writeSnapshot(
  sql: Sql,
  ledger: string,
  snapshot: StoredSnapshot,
): Promise<void> {
  const key = ledgerKey(ledger);
  // A copy before anything awaits: the caller may reuse its buffer.
  const bytes = new Uint8Array(snapshot.bytes);
  await sql`INSERT INTO ledgers (key, name) VALUES (${key}, ${encodeLedgerName(ledger)})
            ON CONFLICT (key) DO NOTHING`;
  await sql`
    INSERT INTO snapshots (ledger_id, cid, heads, height, bytes)
    SELECT l.id, ${snapshot.cid.bytes}, ${encodeParents(snapshot.heads)},
           ${snapshot.height}, ${bytes}
    FROM ledgers l WHERE l.key = ${key}
    ON CONFLICT (ledger_id) DO UPDATE SET cid = EXCLUDED.cid, heads = EXCLUDED.heads,
      height = EXCLUDED.height, bytes = EXCLUDED.bytes`;
}

export async function readSnapshot(
  sql: Sql,
  ledger: string,
): Promise<StoredSnapshot | undefined> {
  const rows = await sql<
    { cid: Uint8Array; heads: Uint8Array; height: number; bytes: Uint8Array }[]
  >`
    SELECT s.cid, s.heads, s.height, s.bytes
    FROM snapshots s JOIN ledgers l ON l.id = s.ledger_id
    WHERE l.key = ${ledgerKey(ledger)}`;
  const row = rows[0];
  if (!row) return undefined;
  const cid: CID = decodeCidColumn(row.cid, "snapshots");
  const bytes = new Uint8Array(row.bytes);
  if (!matchesCid(cid, bytes))
    throw new IntegrityError(
      cid.toString(),
      "the snapshot row's bytes do not match their cid",
    );
  return {
    cid,
    bytes,
    heads: decodeParents(row.heads, "snapshots"),
    height: row.height,
  };
}

/**
 * Deletes every row of the ledger (snapshot, heads, commits, the ledger row) in one
 * transaction; with a bucket, first every commit object the rows name, so a failure part way
 * leaves rows that still name what is left (and a retry finds it).
 */
export async function deleteLedgerRows(
  sql: Sql,
  ledger: string,
  bucket: { store: BlobStore; cache: { clear(): void } } | undefined,
): Promise<void> {
  const key = ledgerKey(ledger);
  if (bucket) {
    const rows = await sql<{ cid: Uint8Array }[]>`
      SELECT c.cid FROM commits c JOIN ledgers l ON l.id = c.ledger_id
      WHERE l.key = ${key} AND c.bytes IS NULL AND NOT c.dropped`;
    for (const row of rows)
      await bucket.store.delete(ledger, decodeCidColumn(row.cid, "commits"));
    // Cached bytes are keyed by CID: a deleted ledger's must not be served again.
    bucket.cache.clear();
  }
  await sql.begin(async (tx) => {
    const found = await tx<{ id: string }[]>`
      SELECT id::text AS id FROM ledgers WHERE key = ${key} FOR UPDATE`;
    const id = found[0]?.id;
    if (id === undefined) return;
    await tx`DELETE FROM snapshots WHERE ledger_id = ${id}`;
    await tx`DELETE FROM heads WHERE ledger_id = ${id}`;
    await tx`DELETE FROM commits WHERE ledger_id = ${id}`;
    await tx`DELETE FROM ledgers WHERE id = ${id}`;
  });
}
