-- Kiln SyncServer schema, version 1. Applied by migrate.ts inside one transaction, with
-- search_path set to the backend's schema (?schema=, default kiln): names here are unqualified,
-- and no BEGIN or COMMIT (the transaction is migrate.ts's).

-- One row per ledger. `key` is ledgerKey(name): the name percent-encoded (any JS string,
-- even one with a lone surrogate, which text cannot hold), or for a long name a prefix of it
-- plus a sha-256, so the unique index stays small. `name` is the whole encoded name, for
-- people reading the table. Rows are never deleted. `version` counts the puts that changed
-- the ledger: each put moves it by one in the statement that records it, only if it still
-- has the value the put planned against — the compare-and-swap that makes head updates
-- race-free across processes (put-commits.ts).
CREATE TABLE ledgers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key text NOT NULL UNIQUE,
  name text NOT NULL,
  version bigint NOT NULL DEFAULT 0
);

-- Every stored commit of a ledger. `parents` is the binary CIDs of its parents, concatenated
-- (one column instead of an array keeps a batch insert to four array parameters); `height`
-- is 1 + the greatest parent height. `bytes` is the encrypted commit, or NULL when it is kept
-- in the bucket (?blobs=s3://…) under <prefix>/<ledger key>/<cid>.
CREATE TABLE commits (
  ledger_id bigint NOT NULL REFERENCES ledgers (id),
  cid bytea NOT NULL,
  parents bytea NOT NULL,
  height integer NOT NULL CHECK (height >= 1),
  bytes bytea,
  PRIMARY KEY (ledger_id, cid)
);

-- Ciphertext does not compress: store large values out of line without trying.
ALTER TABLE commits ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- The head set: the commits of the ledger no stored commit names as a parent.
CREATE TABLE heads (
  ledger_id bigint NOT NULL,
  cid bytea NOT NULL,
  PRIMARY KEY (ledger_id, cid),
  FOREIGN KEY (ledger_id, cid) REFERENCES commits (ledger_id, cid)
);
