-- +goose NO TRANSACTION
-- +goose Up

-- Retention (jobs/prune.go, adapters/postgres/retention.go) deletes old rows in small
-- batches. Deleting an inbox row checks the rows that reference it, and the prune finds
-- old reservations and reconciliation-applied events by time: without these indexes
-- each batch would scan whole tables. Built CONCURRENTLY, statement by statement
-- outside a transaction, so a live database keeps taking webhooks while they build.
CREATE INDEX CONCURRENTLY IF NOT EXISTS applied_events_by_inbox ON applied_events (inbox_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS applied_events_unlinked_by_time ON applied_events (applied_at) WHERE inbox_id IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS rejections_by_inbox ON rejections (inbox_id) WHERE inbox_id IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS reservations_finished_by_time ON reservations (updated_at) WHERE state <> 'active';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS reservations_finished_by_time;
DROP INDEX CONCURRENTLY IF EXISTS rejections_by_inbox;
DROP INDEX CONCURRENTLY IF EXISTS applied_events_unlinked_by_time;
DROP INDEX CONCURRENTLY IF EXISTS applied_events_by_inbox;
