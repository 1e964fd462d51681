package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// Reads for the dashboard's downstream pages and for the metrics: counts of the
// deliveries still waiting, what each channel was last told of a SKU, and the
// newest reconciliation runs that matter to an alert.

// DownstreamReads reads the outbox, the published levels and the reconciliation
// reports for the dashboard and the metrics.
type DownstreamReads struct {
	DB sqlx.QueryerContext
}

// DeliveryCounts counts the deliveries not delivered, by destination and status
// (pending, failed, dead): a grouped index-only read over the partial index
// deliveries_not_delivered, cheap however many delivered rows the outbox holds.
// Destinations with none waiting are absent.
func (s *DownstreamReads) DeliveryCounts(ctx context.Context) (map[string]map[domain.DeliveryStatus]int, error) {
	var rows []struct {
		Destination string `db:"destination"`
		Status      string `db:"status"`
		N           int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, s.DB, &rows, `SELECT destination, status, count(*) AS n FROM deliveries
		WHERE status <> 'delivered' GROUP BY destination, status`); err != nil {
		return nil, translate("count deliveries", err)
	}
	out := map[string]map[domain.DeliveryStatus]int{}
	for _, r := range rows {
		if out[r.Destination] == nil {
			out[r.Destination] = map[domain.DeliveryStatus]int{}
		}
		out[r.Destination][domain.DeliveryStatus(r.Status)] = r.N
	}
	return out, nil
}

// PublishedOf returns what each stock destination last published of sku and
// when the channel confirmed it, by destination.
func (s *DownstreamReads) PublishedOf(ctx context.Context, sku string) ([]domain.PublishedStock, error) {
	out := []domain.PublishedStock{}
	err := sqlx.SelectContext(ctx, s.DB, &out, `SELECT destination, sku, published, confirmed_at FROM published_stock
		WHERE sku = $1 ORDER BY destination LIMIT 100`, sku)
	return out, translate("published stock of a SKU", err)
}

// ReconciliationHealth is what the alerts need of the reconciliation reports.
type ReconciliationHealth struct {
	// LastSuccess is when the newest completed run (not a dry run) finished;
	// zero when none has.
	LastSuccess time.Time
	// Last is the newest finished run that is not a dry run; Found is false when
	// none has finished.
	Last  domain.Reconciliation
	Found bool
}

// ReconciliationHealth reads the newest finished and the newest successful
// run. Dry runs are left out: they repair nothing, so they neither prove the
// nightly run healthy nor stand for it.
func (s *DownstreamReads) ReconciliationHealth(ctx context.Context) (ReconciliationHealth, error) {
	var h ReconciliationHealth
	var last sql.NullTime
	if err := sqlx.GetContext(ctx, s.DB, &last, `SELECT max(finished_at) FROM reconciliations
		WHERE status = 'completed' AND NOT dry_run`); err != nil {
		return h, translate("last successful reconciliation", err)
	}
	h.LastSuccess = last.Time
	var row reconRow
	err := sqlx.GetContext(ctx, s.DB, &row, `SELECT `+reconColumns+` FROM reconciliations
		WHERE status <> 'running' AND NOT dry_run ORDER BY id DESC LIMIT 1`)
	if err == sql.ErrNoRows {
		return h, nil
	}
	if err != nil {
		return h, translate("last reconciliation", err)
	}
	h.Last, err = row.report()
	h.Found = err == nil
	return h, err
}
