-- +goose Up

-- Conflict state is data, not text: state pending | open | resolved | cleared,
-- who resolved it (rule | person), and since when its condition has held.
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_state_check;
ALTER TABLE conflicts
    ADD COLUMN resolved_by TEXT        NOT NULL DEFAULT '',
    ADD COLUMN held_since  TIMESTAMPTZ NOT NULL DEFAULT now();
UPDATE conflicts SET held_since = created_at;
-- A condition that cleared was recorded as resolved with the rule "condition cleared by <event>".
UPDATE conflicts SET state = 'cleared' WHERE state = 'resolved' AND note = '' AND rule LIKE 'condition cleared%';
UPDATE conflicts SET resolved_by = 'person' WHERE state = 'resolved' AND note <> '';
UPDATE conflicts SET resolved_by = 'rule' WHERE state = 'resolved' AND note = '';
ALTER TABLE conflicts
    ADD CONSTRAINT conflicts_state_check CHECK (state IN ('pending', 'open', 'resolved', 'cleared')),
    ADD CONSTRAINT conflicts_resolved_by_check CHECK (resolved_by IN ('', 'rule', 'person'));
CREATE INDEX conflicts_by_order ON conflicts (order_ref);
CREATE INDEX conflicts_pending ON conflicts (held_since) WHERE state = 'pending';

-- A level of Tradewind's own (PUT /api/v1/inventory/{sku}) is stamped at its
-- arrival: changes applied after it are never absorbed by it.
ALTER TABLE inventory ADD COLUMN set_own BOOLEAN NOT NULL DEFAULT false;
UPDATE inventory SET set_own = true WHERE set_event LIKE 'manual\_set:%' OR set_event LIKE 'reconciliation:%';

-- +goose Down
ALTER TABLE inventory DROP COLUMN set_own;
DROP INDEX conflicts_pending;
DROP INDEX conflicts_by_order;
ALTER TABLE conflicts DROP CONSTRAINT conflicts_resolved_by_check;
ALTER TABLE conflicts DROP CONSTRAINT conflicts_state_check;
DELETE FROM conflicts WHERE state = 'pending';
UPDATE conflicts SET state = 'resolved' WHERE state = 'cleared';
ALTER TABLE conflicts ADD CONSTRAINT conflicts_state_check CHECK (state IN ('open', 'resolved'));
ALTER TABLE conflicts DROP COLUMN held_since, DROP COLUMN resolved_by;
