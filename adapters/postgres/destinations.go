package postgres

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// Destinations is the PostgreSQL store of destinations' run-time state
// (domain.Destinations): disabled with a reason, and the breaker the workers
// last reported. A destination without a row is enabled with its breaker closed.
type Destinations struct {
	DB  sqlx.ExtContext
	Now func() time.Time
}

var _ domain.Destinations = (*Destinations)(nil)

func (s *Destinations) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// States implements domain.Destinations.
func (s *Destinations) States(ctx context.Context, ids []string) (map[string]domain.DestinationState, error) {
	var rows []struct {
		ID     string `db:"id"`
		Reason string `db:"disabled_reason"`
		State  string `db:"breaker"`
	}
	if err := sqlx.SelectContext(ctx, s.DB, &rows, `SELECT id, disabled_reason, breaker FROM destinations WHERE id = ANY($1)`,
		pq.StringArray(ids)); err != nil {
		return nil, translate("destination states", err)
	}
	out := make(map[string]domain.DestinationState, len(ids))
	for _, id := range ids {
		out[id] = domain.DestinationState{ID: id, Enabled: true, Breaker: domain.BreakerClosed}
	}
	for _, r := range rows {
		out[r.ID] = domain.DestinationState{ID: r.ID, Enabled: r.Reason == "", DisabledReason: r.Reason, Breaker: r.State}
	}
	return out, nil
}

// Disable implements domain.Destinations.
func (s *Destinations) Disable(ctx context.Context, id, reason string) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO destinations (id, disabled_reason, disabled_at, updated_at) VALUES ($1, $2, $3, $3)
		ON CONFLICT (id) DO UPDATE SET disabled_reason = EXCLUDED.disabled_reason, disabled_at = EXCLUDED.disabled_at, updated_at = EXCLUDED.updated_at`,
		id, reason, s.now())
	return translate("disable destination", err)
}

// Enable implements domain.Destinations.
func (s *Destinations) Enable(ctx context.Context, id string) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO destinations (id, updated_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET disabled_reason = '', disabled_at = NULL, updated_at = EXCLUDED.updated_at`, id, s.now())
	return translate("enable destination", err)
}

// SetBreaker implements domain.Destinations.
func (s *Destinations) SetBreaker(ctx context.Context, id, state string) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO destinations (id, breaker, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET breaker = EXCLUDED.breaker, updated_at = EXCLUDED.updated_at`, id, state, s.now())
	return translate("record breaker state", err)
}

// PublishedStock records what stock destinations published per SKU.
type PublishedStock struct {
	DB sqlx.ExtContext
}

// SetPublished records that destination published qty of sku, confirmed at at.
func (s *PublishedStock) SetPublished(ctx context.Context, destination, sku string, qty int64, at time.Time) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO published_stock (destination, sku, published, confirmed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (destination, sku) DO UPDATE SET published = EXCLUDED.published, confirmed_at = EXCLUDED.confirmed_at`,
		destination, sku, qty, at)
	return translate("record published stock", err)
}

// List returns what destination published, by SKU (at most limit rows).
func (s *PublishedStock) List(ctx context.Context, destination string, limit int) ([]domain.PublishedStock, error) {
	out := []domain.PublishedStock{}
	err := sqlx.SelectContext(ctx, s.DB, &out, `SELECT destination, sku, published, confirmed_at FROM published_stock
		WHERE destination = $1 ORDER BY sku LIMIT $2`, destination, limit)
	return out, translate("published stock", err)
}
