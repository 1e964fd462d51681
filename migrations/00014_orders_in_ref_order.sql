-- +goose NO TRANSACTION
-- +goose Up
-- The storefront reconciliation walks a source's orders in domain.RefOrder
-- (length of the ref in bytes, then its bytes), a page at a time after the last ref
-- read (adapters/postgres/reconcile_orders.go). This index is that order, so
-- each page is a range read that resumes where the last one stopped, instead of
-- a scan and sort of every order per page. Built CONCURRENTLY: orders take
-- writes while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_in_ref_order ON orders ((octet_length(ref)), (ref COLLATE "C"));

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS orders_in_ref_order;
