-- +goose NO TRANSACTION
-- +goose Up

-- "The customer says they paid": every request that names an order can be found by
-- it. A stored entry's order_ref is read from its body at ingress (unverified: an
-- unconfirmed or never-applied entry has nothing better); applied entries are also
-- found through applied_events.order_ref (verified, already indexed). A refused
-- request's order_ref is read from its unverified body. Both columns are nullable
-- (no table rewrite) and indexed only where set. Indexes are built CONCURRENTLY:
-- writes to a live inbox go on meanwhile.
ALTER TABLE inbox ADD COLUMN IF NOT EXISTS order_ref TEXT;
ALTER TABLE rejections ADD COLUMN IF NOT EXISTS order_ref TEXT;
CREATE INDEX CONCURRENTLY IF NOT EXISTS inbox_by_order_ref ON inbox (order_ref, id DESC) WHERE order_ref IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS rejections_by_order_ref ON rejections (order_ref, id DESC) WHERE order_ref IS NOT NULL;

-- Lists paged by key: webhooks of one source, rejections of one source, orders by
-- their last change, payments found by their own reference, customers by email.
CREATE INDEX CONCURRENTLY IF NOT EXISTS inbox_by_source ON inbox (source, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS inbox_by_event_id ON inbox (event_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS rejections_by_source ON rejections (source, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_by_updated ON orders (updated_at DESC, ref DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_by_ref ON payments (ref);
CREATE INDEX CONCURRENTLY IF NOT EXISTS applied_events_by_email ON applied_events (lower(event->'customer'->>'email'))
    WHERE event->'customer'->>'email' IS NOT NULL AND order_ref IS NOT NULL;

-- Who did what from the dashboard or the API: replays, resolutions, stock levels.
CREATE TABLE IF NOT EXISTS ops_audit (
    id     BIGSERIAL PRIMARY KEY,
    at     TIMESTAMPTZ NOT NULL,
    actor  TEXT        NOT NULL,
    action TEXT        NOT NULL,
    target TEXT        NOT NULL DEFAULT '',
    detail TEXT        NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE IF EXISTS ops_audit;
DROP INDEX CONCURRENTLY IF EXISTS applied_events_by_email;
DROP INDEX CONCURRENTLY IF EXISTS payments_by_ref;
DROP INDEX CONCURRENTLY IF EXISTS orders_by_updated;
DROP INDEX CONCURRENTLY IF EXISTS rejections_by_source;
DROP INDEX CONCURRENTLY IF EXISTS inbox_by_event_id;
DROP INDEX CONCURRENTLY IF EXISTS inbox_by_source;
DROP INDEX CONCURRENTLY IF EXISTS rejections_by_order_ref;
DROP INDEX CONCURRENTLY IF EXISTS inbox_by_order_ref;
ALTER TABLE rejections DROP COLUMN IF EXISTS order_ref;
ALTER TABLE inbox DROP COLUMN IF EXISTS order_ref;
