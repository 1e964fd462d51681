-- +goose Up

-- The ops dashboard's sign-ins. The cookie carries a random session id (and an
-- HMAC keyed by the API token); this table holds only the id's SHA-256, so reading
-- it does not let anyone sign in. Signing out deletes the row, which ends the
-- session on every replica at once; expired rows are deleted as new sessions start.
CREATE TABLE ops_sessions (
    id_hash    bytea       PRIMARY KEY,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX ops_sessions_expires_at ON ops_sessions (expires_at);

-- +goose Down
DROP TABLE ops_sessions;
