-- +goose Up

-- Checkout reservations. Active ones are counted in inventory.reserved.
CREATE TABLE reservations (
    id              TEXT PRIMARY KEY,
    sku             TEXT        NOT NULL,
    quantity        BIGINT      NOT NULL CHECK (quantity > 0),
    order_ref       TEXT,
    idempotency_key TEXT UNIQUE,
    state           TEXT        NOT NULL CHECK (state IN ('active', 'converted', 'released', 'expired')),
    expires_at      TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reservations_active_by_expiry ON reservations (expires_at) WHERE state = 'active';
CREATE INDEX reservations_active_by_sku ON reservations (sku, expires_at) WHERE state = 'active';
CREATE INDEX reservations_by_order ON reservations (order_ref) WHERE order_ref IS NOT NULL;

-- +goose Down
DROP TABLE reservations;
