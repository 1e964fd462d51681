-- +goose Up

-- Every inbox row is updated twice after its insert: a worker counts its attempt
-- (attempts, no indexed column) and then claims it (status). Free room on each
-- page lets the first update stay on the page (a HOT update: no new entry in
-- any of the inbox's indexes). Only pages written from now on keep the room: no
-- rewrite, and the lock it takes lets reads and writes go on.
ALTER TABLE inbox SET (fillfactor = 60);

-- +goose Down
ALTER TABLE inbox RESET (fillfactor);
