-- Kiln SyncServer schema, version 3: revoked bearer tokens, by their id (the `jti` claim).
-- Rows are never deleted (a token without expiry stays revoked). A revocation is also
-- sent as NOTIFY on the channel <schema>_revoked (payload: the id), so every server
-- process closes the sessions that used it at once.
CREATE TABLE revoked_tokens (
  id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,128}$'),
  revoked_at timestamptz NOT NULL DEFAULT now()
);
