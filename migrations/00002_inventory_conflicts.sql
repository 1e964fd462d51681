-- +goose Up

-- Stock per SKU. available = on_hand - reserved can never go below zero: the
-- CHECK holds under any concurrency, whatever the Go code does.
CREATE TABLE inventory (
    sku        TEXT PRIMARY KEY,
    on_hand    BIGINT      NOT NULL DEFAULT 0,
    reserved   BIGINT      NOT NULL DEFAULT 0,
    -- The last absolute level a storefront (or a person) set, as of its own time.
    set_level  BIGINT,
    set_at     TIMESTAMPTZ,
    set_event  TEXT        NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT inventory_reserved_nonnegative CHECK (reserved >= 0),
    CONSTRAINT inventory_available_nonnegative CHECK (reserved <= on_hand)
);

-- Every change to a counter, with its cause. SUM(delta_on_hand) = on_hand and
-- SUM(delta_reserved) = reserved for every SKU, always.
CREATE TABLE stock_ledger (
    id             BIGSERIAL PRIMARY KEY,
    sku            TEXT        NOT NULL,
    cause          TEXT        NOT NULL,
    delta_on_hand  BIGINT      NOT NULL DEFAULT 0,
    delta_reserved BIGINT      NOT NULL DEFAULT 0,
    -- What the change would do to on_hand had no later absolute level absorbed it.
    nominal_on_hand BIGINT     NOT NULL DEFAULT 0,
    order_ref      TEXT,
    reservation_id TEXT,
    source         TEXT        NOT NULL DEFAULT '',
    event_id       TEXT        NOT NULL DEFAULT '',
    occurred_at    TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stock_ledger_by_sku ON stock_ledger (sku, occurred_at);

-- What each order holds of each SKU: reserved (placed, not paid), committed
-- (paid or fulfilled) or backordered (wanted, but there was no stock).
CREATE TABLE allocations (
    order_ref  TEXT        NOT NULL,
    sku        TEXT        NOT NULL,
    quantity   BIGINT      NOT NULL,
    state      TEXT        NOT NULL CHECK (state IN ('reserved', 'committed', 'backordered')),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_ref, sku)
);

-- Contradictions between sources, with the rule that resolved them or left open for a person.
CREATE TABLE conflicts (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT        NOT NULL,
    order_ref   TEXT        NOT NULL DEFAULT '',
    sku         TEXT        NOT NULL DEFAULT '',
    state       TEXT        NOT NULL CHECK (state IN ('open', 'resolved')),
    rule        TEXT        NOT NULL DEFAULT '',
    note        TEXT        NOT NULL DEFAULT '',
    detail      TEXT        NOT NULL DEFAULT '',
    events      TEXT[]      NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at TIMESTAMPTZ,
    UNIQUE (kind, order_ref, sku)
);
CREATE INDEX conflicts_by_state ON conflicts (state, kind, id DESC);

-- Customers as the CRM will see them.
CREATE TABLE customers (
    ref        TEXT PRIMARY KEY,
    source     TEXT        NOT NULL,
    email      TEXT        NOT NULL DEFAULT '',
    first_name TEXT        NOT NULL DEFAULT '',
    last_name  TEXT        NOT NULL DEFAULT '',
    version    BIGINT      NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE orders ADD COLUMN local_status TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE orders DROP COLUMN local_status;
DROP TABLE customers;
DROP TABLE conflicts;
DROP TABLE allocations;
DROP TABLE stock_ledger;
DROP TABLE inventory;
