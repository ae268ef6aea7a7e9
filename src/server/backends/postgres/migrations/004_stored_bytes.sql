-- Kiln SyncServer schema, version 4: each ledger's stored commit bytes, which a per-ledger
-- quota bounds. A put adds the bytes of the commits it stores in the same compare-and-swap
-- statement that moves `version` (put-commits.ts), so the count is exact across processes;
-- deleting a ledger deletes its row. Counted from what the table holds: commits kept in a
-- bucket before this version (bytes NULL) are not in the count.
ALTER TABLE ledgers ADD COLUMN stored_bytes bigint NOT NULL DEFAULT 0
  CHECK (stored_bytes >= 0);

UPDATE ledgers l SET stored_bytes = s.total
FROM (
  SELECT ledger_id, coalesce(sum(octet_length(bytes)), 0) AS total
  FROM commits GROUP BY ledger_id
) s
WHERE s.ledger_id = l.id;
