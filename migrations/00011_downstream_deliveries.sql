-- +goose Up

-- The downstream outbox. Each applied decision a destination wants becomes a row
-- here in the decision's own transaction; a worker task per row sends it. The
-- key names the fact: (destination, event_key) is unique, so one fact is never
-- delivered twice as two deliveries. webhook_id is derived from both and never
-- changes, across retries and replays.
CREATE TABLE deliveries (
    id               bigserial   PRIMARY KEY,
    destination      text        NOT NULL,
    event_type       text        NOT NULL,
    event_key        text        NOT NULL,
    order_ref        text,
    sku              text,
    sequence         bigint      NOT NULL DEFAULT 0,
    data             jsonb,
    webhook_id       text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending',
    attempts         integer     NOT NULL DEFAULT 0,
    last_status_code integer     NOT NULL DEFAULT 0,
    last_error       text        NOT NULL DEFAULT '',
    next_attempt_at  timestamptz,
    queued_at        timestamptz, -- when its task was last queued; NULL: not yet
    -- A coalesced row (a stock push: one per destination and SKU) counts the
    -- changes folded into it; an attempt that began at an older generation does
    -- not make it delivered.
    generation       integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    UNIQUE (destination, event_key)
);
CREATE INDEX deliveries_unqueued ON deliveries (id) WHERE queued_at IS NULL;
CREATE INDEX deliveries_open ON deliveries (updated_at) WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_destination_status ON deliveries (destination, status, created_at);
CREATE INDEX deliveries_order_ref ON deliveries (order_ref) WHERE order_ref IS NOT NULL;

-- Every attempt at a delivery: time, answer, latency, a bounded error.
CREATE TABLE delivery_attempts (
    delivery_id bigint      NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    n           integer     NOT NULL,
    at          timestamptz NOT NULL,
    status_code integer     NOT NULL DEFAULT 0,
    latency_ms  bigint      NOT NULL DEFAULT 0,
    error       text        NOT NULL DEFAULT '',
    retry_in_ms bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, n)
);

-- What downstream has been told of each order (domain.OrderFacts), and how many
-- times its facts changed: the next decision's "before" and its sequence.
CREATE TABLE downstream_orders (
    order_ref text   PRIMARY KEY,
    facts     jsonb  NOT NULL,
    seq       bigint NOT NULL
);

-- A destination's run-time state: disabled (after a 410, with the reason) until
-- a person enables it, and its breaker as the workers last saw it.
CREATE TABLE destinations (
    id              text        PRIMARY KEY,
    disabled_reason text        NOT NULL DEFAULT '',
    disabled_at     timestamptz,
    breaker         text        NOT NULL DEFAULT 'closed',
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- What each stock destination last published per SKU, and when the channel
-- confirmed it.
CREATE TABLE published_stock (
    destination  text        NOT NULL,
    sku          text        NOT NULL,
    published    bigint      NOT NULL,
    confirmed_at timestamptz NOT NULL,
    PRIMARY KEY (destination, sku)
);

-- +goose Down
DROP TABLE published_stock;
DROP TABLE destinations;
DROP TABLE downstream_orders;
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
