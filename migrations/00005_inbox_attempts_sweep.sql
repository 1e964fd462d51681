-- +goose NO TRANSACTION
-- +goose Up

-- The sweeper pages through received entries by id (keyset), so that entries
-- whose task is already queued or retrying cannot hide newer ones behind them.
-- Built CONCURRENTLY: writes to a live inbox go on while it is built. It replaces
-- inbox_pending (received_at), which only the old sweeper read.
CREATE INDEX CONCURRENTLY IF NOT EXISTS inbox_received_by_id ON inbox (id) WHERE status = 'received';
DROP INDEX CONCURRENTLY IF EXISTS inbox_pending;

-- attempts now counts every start of processing, in PostgreSQL, so that the cap on
-- attempts holds even when Redis loses its retry counters. Existing values (failed
-- attempts only) are a lower bound of that and are kept.
COMMENT ON COLUMN inbox.attempts IS 'processing attempts started; at the maximum the entry is marked failed';

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS inbox_pending ON inbox (received_at) WHERE status = 'received';
DROP INDEX CONCURRENTLY IF EXISTS inbox_received_by_id;
COMMENT ON COLUMN inbox.attempts IS NULL;
