-- +goose Up

-- Every accepted webhook message, committed before it is acknowledged.
CREATE TABLE inbox (
    id           BIGSERIAL PRIMARY KEY,
    source       TEXT        NOT NULL,
    provider     TEXT        NOT NULL,
    event_id     TEXT        NOT NULL,              -- the provider's dedupe key
    event_type   TEXT        NOT NULL,
    headers      JSONB       NOT NULL DEFAULT '{}', -- as received, minus credentials
    body         BYTEA       NOT NULL,              -- the raw bytes, as signed
    occurred_at  TIMESTAMPTZ,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    status       TEXT        NOT NULL CHECK (status IN ('received', 'applied', 'ignored', 'failed', 'rejected')),
    attempts     INT         NOT NULL DEFAULT 0,
    last_error   TEXT        NOT NULL DEFAULT '',
    unconfirmed  BOOLEAN     NOT NULL DEFAULT false,
    applied_at   TIMESTAMPTZ,
    UNIQUE (source, event_id)
);
CREATE INDEX inbox_pending ON inbox (received_at) WHERE status = 'received';
CREATE INDEX inbox_by_status ON inbox (status, id DESC);

-- Refused requests: why, from where, never a secret or a body.
CREATE TABLE rejections (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT        NOT NULL,
    cause       TEXT        NOT NULL,
    detail      TEXT        NOT NULL DEFAULT '',
    remote_addr TEXT        NOT NULL DEFAULT '',
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    inbox_id    BIGINT REFERENCES inbox (id)
);
CREATE INDEX rejections_recent ON rejections (received_at DESC);

-- Orders as the storefront last described them, plus the derived payment status.
CREATE TABLE orders (
    ref            TEXT PRIMARY KEY,
    status         TEXT        NOT NULL CHECK (status IN ('pending', 'placed', 'fulfilled', 'cancelled')),
    payment_status TEXT        NOT NULL DEFAULT 'unpaid',
    currency       TEXT        NOT NULL DEFAULT '',
    total          BIGINT      NOT NULL DEFAULT 0,
    lines          JSONB       NOT NULL DEFAULT '[]',
    version        BIGINT      NOT NULL DEFAULT 0,
    snapshot_at    TIMESTAMPTZ,
    snapshot_event TEXT        NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per gateway payment. Amounts only grow (GREATEST), so events commute.
CREATE TABLE payments (
    provider       TEXT        NOT NULL,
    ref            TEXT        NOT NULL,
    source         TEXT        NOT NULL,
    order_ref      TEXT,
    currency       TEXT        NOT NULL DEFAULT '',
    authorized     BIGINT      NOT NULL DEFAULT 0,
    captured       BIGINT      NOT NULL DEFAULT 0,
    refunded_total BIGINT      NOT NULL DEFAULT 0, -- cumulative totals reported without a refund id
    failed         BOOLEAN     NOT NULL DEFAULT false,
    failure_reason TEXT        NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, ref)
);
CREATE INDEX payments_by_order ON payments (order_ref);

CREATE TABLE refunds (
    provider    TEXT    NOT NULL,
    ref         TEXT    NOT NULL,
    payment_ref TEXT    NOT NULL,
    amount      BIGINT  NOT NULL,
    currency    TEXT    NOT NULL,
    restock     BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (provider, ref)
);
CREATE INDEX refunds_by_payment ON refunds (provider, payment_ref);

CREATE TABLE disputes (
    provider    TEXT        NOT NULL,
    ref         TEXT        NOT NULL,
    payment_ref TEXT        NOT NULL,
    amount      BIGINT      NOT NULL DEFAULT 0,
    currency    TEXT        NOT NULL DEFAULT '',
    status      TEXT        NOT NULL,
    closed      BOOLEAN     NOT NULL DEFAULT false,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, ref)
);

-- Every event applied (or found stale), recorded in the same transaction as its effect.
CREATE TABLE applied_events (
    source      TEXT        NOT NULL,
    event_id    TEXT        NOT NULL,
    inbox_id    BIGINT REFERENCES inbox (id),
    event_type  TEXT        NOT NULL,
    order_ref   TEXT,
    occurred_at TIMESTAMPTZ,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    outcome     TEXT        NOT NULL DEFAULT 'applied',
    event       JSONB       NOT NULL,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX applied_events_by_order ON applied_events (order_ref, applied_at);

-- +goose Down
DROP TABLE applied_events;
DROP TABLE disputes;
DROP TABLE refunds;
DROP TABLE payments;
DROP TABLE orders;
DROP TABLE rejections;
DROP TABLE inbox;
