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

// storefrontOrdersPage is one page of StorefrontOrders: $1 source, [$2, $3]
// the window, after the ref $5 of $4 bytes (-1 and "" before the first), $6
// rows at most.
const storefrontOrdersPage = `
	SELECT ` + heldOrderColumns + `
	FROM orders o
	WHERE (octet_length(o.ref), o.ref COLLATE "C") > ($4::int, $5::text COLLATE "C")
		AND o.snapshot_at >= $2 AND o.snapshot_at <= $3
		AND EXISTS (SELECT 1 FROM applied_events a WHERE a.source = $1 AND a.event_id = o.snapshot_event)
	ORDER BY octet_length(o.ref), o.ref COLLATE "C" LIMIT $6`

// StorefrontOrders walks the orders whose applied snapshot came from source
// (the applied event named by snapshot_event) with snapshot_at in [since,
// until], in domain.RefOrder (length in bytes — octet_length, as Go's len —
// then bytes), a page at a time after the last ref read.
//
// The index orders_in_ref_order (migration 00014) is that order: each page
// is a range read of it from the row (length, ref) after the last one read — a
// row comparison, which a btree can start at, where the equivalent OR of
// comparisons would be a filter over every earlier ref — so a walk reads each
// order once, however many pages.
func (s *ReconcileStore) StorefrontOrders(ctx context.Context, source string, since, until time.Time) iter.Seq2[domain.Order, error] {
	size := s.PageSize
	if size <= 0 {
		size = 1000
	}
	return func(yield func(domain.Order, error) bool) {
		afterLen, after := -1, "" // before every ref
		for {
			var page []heldOrderRow
			err := sqlx.SelectContext(ctx, s.DB, &page, storefrontOrdersPage, source, since, until, afterLen, after, size)
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
			after = page[len(page)-1].Ref
			afterLen = len(after)
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
