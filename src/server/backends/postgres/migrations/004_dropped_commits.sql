-- Kiln SyncServer schema, version 4: commits whose bytes were dropped because a snapshot
-- covers them (publish with retain "snapshot"). The row stays — its parents and height keep
-- catch-up walks and parent checks working — with `bytes` NULL and `dropped` true; with a
-- bucket, the object is deleted first.
ALTER TABLE commits ADD COLUMN dropped boolean NOT NULL DEFAULT false;
