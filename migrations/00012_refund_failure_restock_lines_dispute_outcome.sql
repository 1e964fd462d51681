-- +goose Up

-- A refund the provider reported failed or cancelled stops counting (domain.RefundedOf);
-- restock_lines are the units per SKU a refund returned to stock line by line
-- ([{"sku": …, "quantity": …}]), counted once per refund id.
ALTER TABLE refunds
    ADD COLUMN failed        BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN restock_lines JSONB   NOT NULL DEFAULT '[]';

-- A dispute keeps the fact of the highest rank (domain.DisputeRank: lifecycle stage,
-- then outcome); outcome is open, won or lost, and a lost dispute's amount is what the
-- payment was charged back.
ALTER TABLE disputes
    ADD COLUMN outcome TEXT   NOT NULL DEFAULT 'open',
    ADD COLUMN rank    BIGINT NOT NULL DEFAULT 0;
UPDATE disputes SET outcome = CASE WHEN NOT closed THEN 'open' WHEN status = 'lost' THEN 'lost' ELSE 'won' END,
    rank = CASE WHEN closed THEN 9 + CASE WHEN status = 'lost' THEN 2 ELSE 1 END ELSE 3 END;

-- +goose Down
ALTER TABLE disputes DROP COLUMN rank, DROP COLUMN outcome;
ALTER TABLE refunds DROP COLUMN restock_lines, DROP COLUMN failed;
