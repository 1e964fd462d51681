-- +goose Up

-- The dashboard counts the last day's webhooks by status. The inbox is appended to in
-- received_at order, so a BRIN index answers "received since" for almost nothing on insert.
CREATE INDEX inbox_received_brin ON inbox USING brin (received_at);

-- +goose Down
DROP INDEX inbox_received_brin;
