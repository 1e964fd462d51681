-- +goose Up

-- Transmission ids that were used, for providers whose signature binds a transmission id
-- but the body only by a checksum (PayPal: CRC-32). The first body under an id is kept
-- by its SHA-256; the same body again is a duplicate, another body is refused. A row is
-- needed only while a replay of its transmission could still verify (its signed time
-- within the tolerance): past expires_at it is pruned.
CREATE TABLE transmissions (
    source          TEXT        NOT NULL,
    transmission_id TEXT        NOT NULL,
    body_sha256     BYTEA       NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, transmission_id)
);
CREATE INDEX transmissions_expires ON transmissions (expires_at);

-- +goose Down
DROP TABLE transmissions;
