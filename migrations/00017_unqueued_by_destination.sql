-- +goose NO TRANSACTION
-- +goose Up

-- The dispatcher queues new deliveries per destination, and leaves those of a
-- destination whose circuit breaker is open in the outbox: during a long outage
-- they pile up. Keyed by destination first, the dispatcher finds the
-- destinations with new deliveries (a skip scan) and each one's oldest without
-- reading past another's backlog.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_unqueued_by_destination ON deliveries (destination, id) WHERE queued_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_unqueued;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_unqueued ON deliveries (id) WHERE queued_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_unqueued_by_destination;
