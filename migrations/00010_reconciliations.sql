-- +goose Up

-- How an inbox entry reached Tradewind: delivered as a webhook, or fetched from
-- the provider's own API by the nightly reconciliation (an order's events[] show it).
ALTER TABLE inbox ADD COLUMN origin TEXT NOT NULL DEFAULT 'webhook'
    CONSTRAINT inbox_origin_check CHECK (origin IN ('webhook', 'reconciliation'));

-- The reconciliation walks a source's entries in the provider's own order
-- (newest provider time first, then event id): a keyset cursor over this index.
CREATE INDEX inbox_by_source_occurred ON inbox (source, occurred_at DESC, event_id);

-- One row per reconciliation run: its window, what it found per source, and how it ended.
CREATE TABLE reconciliations (
    id                BIGSERIAL PRIMARY KEY,
    status            TEXT        NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    since             TIMESTAMPTZ NOT NULL,
    until             TIMESTAMPTZ NOT NULL,
    dry_run           BOOLEAN     NOT NULL DEFAULT false,
    requested_sources TEXT[]      NOT NULL DEFAULT '{}',
    sources           JSONB       NOT NULL DEFAULT '[]',
    stock_drift_fixed INT         NOT NULL DEFAULT 0,
    error             TEXT        NOT NULL DEFAULT '',
    started_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ,
    -- A run started by a task (the nightly one) is keyed by its task id: a
    -- retried task finds its report instead of starting another.
    task_key          TEXT UNIQUE
);

-- +goose Down
DROP TABLE reconciliations;
DROP INDEX inbox_by_source_occurred;
ALTER TABLE inbox DROP COLUMN origin;
