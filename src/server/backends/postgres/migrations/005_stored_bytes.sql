-- Kiln SyncServer schema, version 5: the commit bytes each ledger stores, which a per-ledger
-- quota bounds. `commits.size` is a commit's length (kept when its bytes live in a bucket or
-- are dropped); `ledgers.stored_bytes` the sum over its commits not dropped. A put adds what
-- it stores in the same compare-and-swap statement that moves `version` (put-commits.ts), a
-- drop subtracts what it drops in its own statement, so the count is exact across
-- processes; deleting a ledger deletes its row. Commits kept in a bucket before this version
-- have no size (their bytes are not in the row) and are not counted.
ALTER TABLE commits ADD COLUMN size integer CHECK (size >= 0);
UPDATE commits SET size = octet_length(bytes) WHERE bytes IS NOT NULL;

ALTER TABLE ledgers ADD COLUMN stored_bytes bigint NOT NULL DEFAULT 0
  CHECK (stored_bytes >= 0);
UPDATE ledgers l SET stored_bytes = s.total
FROM (
  SELECT ledger_id, coalesce(sum(size), 0) AS total
  FROM commits WHERE NOT dropped GROUP BY ledger_id
) s
WHERE s.ledger_id = l.id;
