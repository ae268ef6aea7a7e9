-- Snapshots (docs/format.md, "Snapshots"): one per ledger, the one the server keeps (the
-- caller chooses; a put replaces it). `heads` is the binary CIDs of the heads it covers,
-- concatenated like commits.parents; `height` the greatest of their heights; `bytes` the
-- sealed snapshot, which the server cannot read.
CREATE TABLE snapshots (
  ledger_id bigint PRIMARY KEY REFERENCES ledgers (id),
  cid bytea NOT NULL,
  heads bytea NOT NULL,
  height integer NOT NULL CHECK (height >= 1),
  bytes bytea NOT NULL
);

ALTER TABLE snapshots ALTER COLUMN bytes SET STORAGE EXTERNAL;
