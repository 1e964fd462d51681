package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// heldOrderRow is an order as the reconciliation compares it with a storefront.
type heldOrderRow struct {
	Ref           string       `db:"ref"`
	Status        string       `db:"status"`
	PaymentStatus string       `db:"payment_status"`
	Currency      string       `db:"currency"`
	Total         int64        `db:"total"`
	Version       int64        `db:"version"`
	SnapshotAt    sql.NullTime `db:"snapshot_at"`
}

func (r heldOrderRow) order() domain.Order {
	return domain.Order{Ref: r.Ref, Status: domain.OrderStatus(r.Status), PaymentStatus: domain.PaymentStatus(r.PaymentStatus),
		Currency: r.Currency, Total: r.Total, Version: r.Version, SnapshotAt: r.SnapshotAt.Time.UTC()}
}

// The storefront's status as stored: Tradewind's own decision (local_status) is
// not the storefront's to confirm.
const heldOrderColumns = `o.ref, o.status, o.payment_status, o.currency, o.total, o.version, o.snapshot_at`

// StorefrontOrders walks the orders whose applied snapshot came from source
// (the applied event named by snapshot_event) with snapshot_at in [since,
// until], in domain.RefOrder (length, then bytes), a page at a time after the
// last ref read.
//
// No index serves this order, so each page scans the orders of the window; at a
// page of 1000 a night's window stays a few scans. An index on
// (length(ref), ref COLLATE "C") would make each page a range read.
func (s *ReconcileStore) StorefrontOrders(ctx context.Context, source string, since, until time.Time) iter.Seq2[domain.Order, error] {
	size := s.PageSize
	if size <= 0 {
		size = 1000
	}
	return func(yield func(domain.Order, error) bool) {
		first, after := true, ""
		for {
			var page []heldOrderRow
			err := sqlx.SelectContext(ctx, s.DB, &page, `
				SELECT `+heldOrderColumns+`
				FROM orders o
				WHERE o.snapshot_at >= $2 AND o.snapshot_at <= $3
					AND EXISTS (SELECT 1 FROM applied_events a WHERE a.source = $1 AND a.event_id = o.snapshot_event)
					AND ($4 OR length(o.ref) > length($5) OR (length(o.ref) = length($5) AND o.ref COLLATE "C" > $5 COLLATE "C"))
				ORDER BY length(o.ref), o.ref COLLATE "C" LIMIT $6`,
				source, since, until, first, after, size)
			if err != nil {
				yield(domain.Order{}, translate("reconcile: list orders", err))
				return
			}
			for _, r := range page {
				if !yield(r.order(), nil) {
					return
				}
			}
			if len(page) < size {
				return
			}
			first, after = false, page[len(page)-1].Ref
		}
	}
}

// StorefrontOrder returns order ref as StorefrontOrders states it, or nil when
// there is no such order.
func (s *ReconcileStore) StorefrontOrder(ctx context.Context, ref string) (*domain.Order, error) {
	var r heldOrderRow
	err := sqlx.GetContext(ctx, s.DB, &r, `SELECT `+heldOrderColumns+` FROM orders o WHERE o.ref = $1`, ref)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, translate(fmt.Sprintf("reconcile: order %q", ref), err)
	}
	o := r.order()
	return &o, nil
}
