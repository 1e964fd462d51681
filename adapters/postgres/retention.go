package postgres

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// CarriedCause is the stock_ledger cause of the row that holds, per SKU, the sum of
// the ledger rows retention removed: the ledger keeps summing to the counters.
const CarriedCause = "carried"

// Retention deletes what is older than the retention policy, a small batch per
// statement (each its own short transaction), so no lock is held for long and
// webhooks keep flowing while it runs.
type Retention struct {
	DB    *sqlx.DB
	Batch int // rows per statement; 1000 when 0
}

// Counts name what a prune removed: inbox, applied_events, rejections,
// ledger_folded (folded into carried rows, not lost), reservations.
type Counts = map[string]int64

func (r *Retention) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return 1000
}

// PruneWebhooks deletes the inbox rows of sources (of every other source when others
// is true) received before cutoff that are finished (applied, ignored, failed or
// rejected; never one still being applied), with their applied-event records and
// rejections; then those sources' other rejections (unknown sources' among them) and
// reconciliation-applied events before cutoff. Rows a worker holds are skipped.
func (r *Retention) PruneWebhooks(ctx context.Context, sources []string, others bool, cutoff time.Time) (Counts, error) {
	total := Counts{}
	set := pq.Array(sources)
	for {
		var inbox, applied, rejected int64
		err := r.DB.QueryRowxContext(ctx, `
			WITH batch AS (
				SELECT id FROM inbox
				WHERE (source = ANY($1)) <> $4 AND received_at < $2 AND status <> 'received'
				ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED
			), ae AS (
				DELETE FROM applied_events WHERE inbox_id IN (SELECT id FROM batch) RETURNING 1
			), rj AS (
				DELETE FROM rejections WHERE inbox_id IN (SELECT id FROM batch) RETURNING 1
			), ib AS (
				DELETE FROM inbox WHERE id IN (SELECT id FROM batch) RETURNING 1
			)
			SELECT (SELECT count(*) FROM ib), (SELECT count(*) FROM ae), (SELECT count(*) FROM rj)`,
			set, cutoff, r.batch(), others).Scan(&inbox, &applied, &rejected)
		if err != nil {
			return total, translate("retention: prune inbox", err)
		}
		total["inbox"] += inbox
		total["applied_events"] += applied
		total["rejections"] += rejected
		if inbox < int64(r.batch()) || ctx.Err() != nil {
			break
		}
	}
	for _, q := range []struct{ what, sql string }{
		{"rejections", `DELETE FROM rejections WHERE id IN (
			SELECT id FROM rejections WHERE (source = ANY($1)) <> $4 AND received_at < $2 ORDER BY id LIMIT $3)`},
		{"applied_events", `DELETE FROM applied_events WHERE (source, event_id) IN (
			SELECT source, event_id FROM applied_events
			WHERE inbox_id IS NULL AND applied_at < $2 AND (source = ANY($1)) <> $4 LIMIT $3)`},
	} {
		for {
			res, err := r.DB.ExecContext(ctx, q.sql, set, cutoff, r.batch(), others)
			if err != nil {
				return total, translate("retention: prune "+q.what, err)
			}
			n, _ := res.RowsAffected()
			total[q.what] += n
			if n < int64(r.batch()) || ctx.Err() != nil {
				break
			}
		}
	}
	return total, ctx.Err()
}

// PruneStock folds stock_ledger rows created before cutoff into one carried row per
// SKU (removed rows and the old carried row become a new carried row with their sums,
// in one statement, so every SKU's ledger sums to its counters at every moment), and
// deletes reservations finished (converted, released, expired) before cutoff.
//
// The carried row is dated at the latest change it holds. A stock level stated as of
// an earlier time (more than the retention ago) counts the whole carried row among
// "changes after it"; such a level is stale by weeks and is rejected as older than
// the one applied in any realistic history.
func (r *Retention) PruneStock(ctx context.Context, cutoff time.Time) (Counts, error) {
	total := Counts{}
	for {
		var folded int64
		err := r.DB.GetContext(ctx, &folded, `
			WITH batch AS (
				SELECT id, sku FROM stock_ledger
				WHERE created_at < $1 AND cause <> $3
				ORDER BY id LIMIT $2
			), gone AS (
				DELETE FROM stock_ledger l
				WHERE l.id IN (SELECT id FROM batch) OR (l.cause = $3 AND l.sku IN (SELECT sku FROM batch))
				RETURNING l.sku, l.cause, l.delta_on_hand, l.delta_reserved, l.nominal_on_hand, l.occurred_at
			), carried AS (
				INSERT INTO stock_ledger (sku, cause, delta_on_hand, delta_reserved, nominal_on_hand, occurred_at)
				SELECT sku, $3, SUM(delta_on_hand), SUM(delta_reserved), SUM(nominal_on_hand), MAX(occurred_at)
				FROM gone GROUP BY sku
			)
			SELECT count(*) FROM gone WHERE cause <> $3`, cutoff, r.batch(), CarriedCause)
		if err != nil {
			return total, translate("retention: fold stock ledger", err)
		}
		total["ledger_folded"] += folded
		if folded < int64(r.batch()) || ctx.Err() != nil {
			break
		}
	}
	for {
		res, err := r.DB.ExecContext(ctx, `DELETE FROM reservations WHERE id IN (
			SELECT id FROM reservations WHERE state <> 'active' AND updated_at < $1 LIMIT $2)`, cutoff, r.batch())
		if err != nil {
			return total, translate("retention: prune reservations", err)
		}
		n, _ := res.RowsAffected()
		total["reservations"] += n
		if n < int64(r.batch()) || ctx.Err() != nil {
			break
		}
	}
	return total, ctx.Err()
}
