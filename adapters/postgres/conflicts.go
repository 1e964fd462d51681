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

// Conflicts lists and resolves recorded conflicts.
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
	Rule       string         `db:"rule"`
	Note       string         `db:"note"`
	Detail     string         `db:"detail"`
	Events     pq.StringArray `db:"events"`
	CreatedAt  time.Time      `db:"created_at"`
	ResolvedAt sql.NullTime   `db:"resolved_at"`
}

func (r conflictRow) conflict() domain.Conflict {
	c := domain.Conflict{ID: r.ID, Kind: r.Kind, State: r.State, OrderRef: r.OrderRef, SKU: r.SKU, Detail: r.Detail,
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

const conflictColumns = `id, kind, order_ref, sku, state, rule, note, detail, events, created_at, resolved_at`

// List implements domain.Conflicts.
func (s *Conflicts) List(ctx context.Context, f domain.ConflictFilter) ([]domain.Conflict, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var rows []conflictRow
	err := sqlx.SelectContext(ctx, s.DB, &rows, `SELECT `+conflictColumns+` FROM conflicts
		WHERE ($1 = '' OR state = $1) AND ($2 = '' OR kind = $2) AND ($3 = '' OR order_ref = $3)
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
	err := sqlx.GetContext(ctx, s.DB, &r, `UPDATE conflicts SET state = 'resolved', note = $2, rule = 'resolved by a person', resolved_at = now()
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

// conflictCheck is one conflict condition evaluated on an order's current state.
type conflictCheck struct {
	kind   string
	sku    string
	active bool
	detail string
	rule   string // set when a stated rule resolves it at once; empty leaves it open for a person
}

// recordConflicts opens (or resolves by rule) each active condition and resolves
// the standing ones whose condition no longer holds. Conflicts a person resolved
// stay resolved. standing are the order's conflicts still standing, as
// loadOrderState read them: open ones, and those a rule resolved while the
// condition held (no person has touched them, and it has not cleared yet).
func recordConflicts(ctx context.Context, tx sqlx.ExtContext, orderRef, eventID string, checks []conflictCheck, standing []standingConflict) error {
	isStanding := func(c conflictCheck) bool {
		for _, o := range standing {
			if o.Kind == c.kind && o.SKU == c.sku {
				return true
			}
		}
		return false
	}
	for _, c := range checks {
		if !c.active && !isStanding(c) {
			continue
		}
		if !c.active {
			if _, err := tx.ExecContext(ctx, `
				UPDATE conflicts SET state = 'resolved', rule = 'condition cleared by ' || $4, resolved_at = now()
				WHERE kind = $1 AND order_ref = $2 AND sku = $3 AND note = ''`, c.kind, orderRef, c.sku, eventID); err != nil {
				return err
			}
			continue
		}
		state := domain.ConflictOpen
		if c.rule != "" {
			state = domain.ConflictResolved
		}
		if err := upsertConflict(ctx, tx, c.kind, orderRef, c.sku, state, c.rule, c.detail, eventID); err != nil {
			return err
		}
	}
	return nil
}

func upsertConflict(ctx context.Context, tx sqlx.ExtContext, kind, orderRef, sku, state, rule, detail, eventID string) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO conflicts (kind, order_ref, sku, state, rule, detail, events, resolved_at)
		VALUES ($1, $2, $3, $4, $5, $6, ARRAY[$7]::text[], CASE WHEN $4 = 'resolved' THEN now() END)
		ON CONFLICT (kind, order_ref, sku) DO UPDATE SET
			detail = EXCLUDED.detail,
			events = CASE WHEN $7 = ANY(conflicts.events) THEN conflicts.events ELSE array_append(conflicts.events, $7) END,
			state = CASE WHEN conflicts.note <> '' THEN conflicts.state ELSE EXCLUDED.state END,
			rule = CASE WHEN conflicts.note <> '' THEN conflicts.rule ELSE EXCLUDED.rule END,
			resolved_at = CASE WHEN conflicts.note <> '' THEN conflicts.resolved_at ELSE EXCLUDED.resolved_at END`,
		kind, orderRef, sku, state, rule, detail, eventID)
	return err
}
