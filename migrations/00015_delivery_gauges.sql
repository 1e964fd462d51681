-- +goose NO TRANSACTION
-- +goose Up

-- The metric tradewind_deliveries{destination,status} and the dashboard's
-- Destinations page count the deliveries not yet delivered, per destination and
-- status, on every scrape. Delivered rows are nearly all of the table and grow
-- without bound; this partial index holds only the others, so the grouped count
-- is an index-only read of the few rows still waiting, however large the
-- outbox grows.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_not_delivered ON deliveries (destination, status) WHERE status <> 'delivered';

-- An inventory page shows what every stock destination published of its SKU:
-- published_stock's key leads with the destination, so find a SKU's rows by SKU.
CREATE INDEX CONCURRENTLY IF NOT EXISTS published_stock_by_sku ON published_stock (sku);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS published_stock_by_sku;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_not_delivered;
