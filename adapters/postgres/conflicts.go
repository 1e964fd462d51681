package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// Conflicts lists, resolves and matures recorded conflicts.
type Conflicts struct {
	DB sqlx.ExtContext
}

var _ domain.Conflicts = (*Conflicts)(nil)

type conflictRow struct {
	ID         int64          `db:"id"`
	Kind       string         `db:"kind"`
	OrderRef   string         `db:"order_ref"`
	SKU        string         `db:"sku"`
	State      string         `db:"state"`
	ResolvedBy string         `db:"resolved_by"`
	Rule       string         `db:"rule"`
	Note       string         `db:"note"`
	Detail     string         `db:"detail"`
	Events     pq.StringArray `db:"events"`
	CreatedAt  time.Time      `db:"created_at"`
	ResolvedAt sql.NullTime   `db:"resolved_at"`
}

func (r conflictRow) conflict() domain.Conflict {
	c := domain.Conflict{ID: r.ID, Kind: r.Kind, State: r.State, ResolvedBy: r.ResolvedBy, OrderRef: r.OrderRef, SKU: r.SKU, Detail: r.Detail,
		Rule: r.Rule, Note: r.Note, Events: []string(r.Events), CreatedAt: r.CreatedAt.UTC()}
	if r.ResolvedAt.Valid {
		t := r.ResolvedAt.Time.UTC()
		c.ResolvedAt = &t
	}
	if c.Events == nil {
		c.Events = []string{}
	}
	return c
}

const conflictColumns = `id, kind, order_ref, sku, state, resolved_by, rule, note, detail, events, created_at, resolved_at`

// List implements domain.Conflicts.
func (s *Conflicts) List(ctx context.Context, f domain.ConflictFilter) ([]domain.Conflict, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var rows []conflictRow
	err := sqlx.SelectContext(ctx, s.DB, &rows, `SELECT `+conflictColumns+` FROM conflicts
		WHERE (state = $1 OR ($1 = '' AND state <> 'pending')) AND ($2 = '' OR kind = $2) AND ($3 = '' OR order_ref = $3)
		ORDER BY id DESC LIMIT $4`, f.State, f.Kind, f.OrderRef, f.Limit)
	if err != nil {
		return nil, translate("list conflicts", err)
	}
	out := make([]domain.Conflict, len(rows))
	for i, r := range rows {
		out[i] = r.conflict()
	}
	return out, nil
}

// Resolve implements domain.Conflicts.
func (s *Conflicts) Resolve(ctx context.Context, id int64, note string) (domain.Conflict, error) {
	var r conflictRow
	err := sqlx.GetContext(ctx, s.DB, &r, `UPDATE conflicts SET state = 'resolved', resolved_by = 'person', note = $2, rule = 'resolved by a person', resolved_at = now()
		WHERE id = $1 AND state = 'open' RETURNING `+conflictColumns, id, note)
	if err == sql.ErrNoRows {
		var state string
		if err := sqlx.GetContext(ctx, s.DB, &state, `SELECT state FROM conflicts WHERE id = $1`, id); err != nil {
			return domain.Conflict{}, translate(fmt.Sprintf("conflict %d", id), err)
		}
		return domain.Conflict{}, &domain.Error{Code: domain.ECONFLICT, Reason: "already_resolved",
			Message: fmt.Sprintf("conflict %d is already resolved", id)}
	}
	if err != nil {
		return domain.Conflict{}, translate(fmt.Sprintf("resolve conflict %d", id), err)
	}
	return r.conflict(), nil
}

// saveConflicts writes what domain.DecideConflicts decided about an order's
// conflicts. A person's resolution is never overwritten.
func saveConflicts(ctx context.Context, tx sqlx.ExtContext, orderRef string, changes []domain.ConflictChange, now time.Time) error {
	for _, c := range changes {
		if c.Delete {
			if _, err := tx.ExecContext(ctx, `DELETE FROM conflicts WHERE kind = $1 AND order_ref = $2 AND sku = $3 AND state = 'pending'`,
				c.Kind, orderRef, c.SKU); err != nil {
				return err
			}
			continue
		}
		if err := upsertConflict(ctx, tx, orderRef, c, now); err != nil {
			return err
		}
	}
	return nil
}

func upsertConflict(ctx context.Context, tx sqlx.ExtContext, orderRef string, c domain.ConflictChange, now time.Time) error {
	since := c.HeldSince
	if since.IsZero() {
		since = now
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO conflicts (kind, order_ref, sku, state, resolved_by, rule, detail, events, held_since, created_at, resolved_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::text = '' THEN '{}'::text[] ELSE ARRAY[$8::text] END, $9, $11,
			CASE WHEN $10::boolean THEN $11::timestamptz END)
		ON CONFLICT (kind, order_ref, sku) DO UPDATE SET
			detail      = CASE WHEN EXCLUDED.detail = '' THEN conflicts.detail ELSE EXCLUDED.detail END,
			events      = CASE WHEN $8::text = '' OR $8::text = ANY(conflicts.events) THEN conflicts.events ELSE array_append(conflicts.events, $8::text) END,
			state       = CASE WHEN conflicts.resolved_by = 'person' THEN conflicts.state ELSE EXCLUDED.state END,
			resolved_by = CASE WHEN conflicts.resolved_by = 'person' THEN conflicts.resolved_by ELSE EXCLUDED.resolved_by END,
			rule        = CASE WHEN conflicts.resolved_by = 'person' THEN conflicts.rule ELSE EXCLUDED.rule END,
			held_since  = CASE WHEN conflicts.resolved_by = 'person' THEN conflicts.held_since ELSE EXCLUDED.held_since END,
			resolved_at = CASE WHEN conflicts.resolved_by = 'person' THEN conflicts.resolved_at
				WHEN $10::boolean THEN $11::timestamptz
				WHEN EXCLUDED.state IN ('open', 'pending') THEN NULL
				ELSE conflicts.resolved_at END`,
		c.Kind, orderRef, c.SKU, c.State, c.ResolvedBy, c.Rule, c.Detail, c.Event, since, c.Resolved, now)
	return err
}

// Mature shows the pending conflicts whose condition has held for grace by now,
// at most limit of them, and returns how many it showed. Each is decided by
// domain.MatureConflict with its order locked, the lock the apply path takes
// first, so an event clearing it concurrently either runs before (and the
// conflict is gone) or after (and clears the shown conflict). Orders busy in
// another transaction are skipped until the next run.
func (s *Conflicts) Mature(ctx context.Context, now time.Time, grace time.Duration, limit int) (int, error) {
	now = now.Truncate(time.Microsecond)
	if db, ok := s.DB.(*sqlx.DB); ok {
		var n int
		err := inTx(ctx, db, "mature conflicts", func(tx *sqlx.Tx) error {
			var err error
			n, err = matureConflicts(ctx, tx, now, grace, limit)
			return err
		})
		return n, err
	}
	n, err := matureConflicts(ctx, s.DB, now, grace, limit) // already in the caller's transaction
	return n, translate("mature conflicts", err)
}

func matureConflicts(ctx context.Context, tx sqlx.ExtContext, now time.Time, grace time.Duration, limit int) (int, error) {
	n := 0
	err := func() error {
		var rows []struct {
			conflictRow
			HeldSince time.Time `db:"held_since"`
		}
		if err := sqlx.SelectContext(ctx, tx, &rows, `
			SELECT c.id, c.kind, c.order_ref, c.sku, c.state, c.resolved_by, c.rule, c.note, c.detail, c.events, c.created_at,
				c.resolved_at, c.held_since
			FROM conflicts c JOIN orders o ON o.ref = c.order_ref
			WHERE c.state = 'pending' AND c.held_since <= $1
			ORDER BY o.ref, c.id LIMIT $2 FOR UPDATE OF o, c SKIP LOCKED`, now.Add(-grace), limit); err != nil {
			return err
		}
		for _, r := range rows {
			ch, ok := domain.MatureConflict(domain.StoredConflict{Kind: r.Kind, SKU: r.SKU, State: r.State, Rule: r.Rule,
				ResolvedBy: r.ResolvedBy, HeldSince: r.HeldSince}, now, grace)
			if !ok {
				continue
			}
			if err := upsertConflict(ctx, tx, r.OrderRef, ch, now); err != nil {
				return err
			}
			n++
		}
		return nil
	}()
	return n, err
}
