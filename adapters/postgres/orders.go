package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// Orders reads orders and their timelines.
type Orders struct {
	DB sqlx.ExtContext
}

var _ domain.OrderReader = (*Orders)(nil)

// Order implements domain.OrderReader.
func (s *Orders) Order(ctx context.Context, ref string) (domain.Order, []domain.AppliedEvent, error) {
	var r orderRow
	if err := sqlx.GetContext(ctx, s.DB, &r, `SELECT `+orderColumns+` FROM orders WHERE ref = $1`, ref); err != nil {
		return domain.Order{}, nil, translate(fmt.Sprintf("order %q", ref), err)
	}
	o := domain.Order{
		Ref: r.Ref, Status: r.status(), PaymentStatus: domain.PaymentStatus(r.PaymentStatus),
		Currency: r.Currency, Total: r.Total, Version: r.Version, SnapshotAt: r.SnapshotAt.Time,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if err := json.Unmarshal(r.Lines, &o.Lines); err != nil {
		return o, nil, fmt.Errorf("order %q lines: %w", ref, err)
	}
	var rows []struct {
		Type       string       `db:"event_type"`
		Source     string       `db:"source"`
		EventID    string       `db:"event_id"`
		OccurredAt sql.NullTime `db:"occurred_at"`
		AppliedAt  time.Time    `db:"applied_at"`
		Outcome    string       `db:"outcome"`
		Origin     string       `db:"origin"`
	}
	err := sqlx.SelectContext(ctx, s.DB, &rows, `
		SELECT a.event_type, a.source, a.event_id, a.occurred_at, a.applied_at, a.outcome, COALESCE(i.origin, 'webhook') AS origin
		FROM applied_events a LEFT JOIN inbox i ON i.id = a.inbox_id
		WHERE a.order_ref = $1 ORDER BY a.applied_at, a.event_id LIMIT 1000`, ref)
	if err != nil {
		return o, nil, translate(fmt.Sprintf("order %q events", ref), err)
	}
	evs := make([]domain.AppliedEvent, len(rows))
	for i, r := range rows {
		evs[i] = domain.AppliedEvent{
			Type: domain.EventType(r.Type), Source: r.Source, EventID: r.EventID,
			OccurredAt: r.OccurredAt.Time.UTC(), AppliedAt: r.AppliedAt.UTC(), Outcome: r.Outcome, Origin: r.Origin,
		}
	}
	return o, evs, nil
}
