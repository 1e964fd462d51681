package domain

import (
	"context"
	"time"
)

// PaymentStatus is an order's payment state, derived from its payments.
type PaymentStatus string

// Payment statuses, as the API shows them.
const (
	PayUnpaid            PaymentStatus = "unpaid"
	PayAuthorized        PaymentStatus = "authorized"
	PayPartiallyPaid     PaymentStatus = "partially_paid"
	PayPaid              PaymentStatus = "paid"
	PayPartiallyRefunded PaymentStatus = "partially_refunded"
	PayRefunded          PaymentStatus = "refunded"
	PayOverpaid          PaymentStatus = "overpaid"
	PayDisputed          PaymentStatus = "disputed"
	PayChargedBack       PaymentStatus = "charged_back" // a lost dispute took the money back
)

// PaymentTotals sums what an order's payments say. Each field is a monotone
// aggregate (a maximum or a sum over deduplicated facts), so it does not depend
// on the order events arrived in.
type PaymentTotals struct {
	Authorized int64
	Captured   int64
	// Refunded counts refunds that did not fail (see RefundedOf).
	Refunded int64
	Disputed bool // a dispute is open
	// ChargedBack is what lost disputes took back.
	ChargedBack int64
}

// RefundedOf is what one payment has refunded: the refunds named by id that did
// not fail (ok), or the payment's running total as the provider stated it less the
// named refunds that failed since (a provider's total counted them while they were
// pending), whichever is more. Every input only grows, so the result does not
// depend on arrival order.
func RefundedOf(runningTotal, ok, failed int64) int64 {
	return max(runningTotal-failed, ok, 0)
}

// DerivePaymentStatus computes an order's payment status from its payments and its
// total. An order known only from a payment has total 0 and counts as paid once
// anything is captured. An open dispute shows first; then a lost one (charged_back:
// the money is gone whatever was captured or refunded); a failed refund does not count.
func DerivePaymentStatus(total int64, p PaymentTotals) PaymentStatus {
	switch {
	case p.Disputed:
		return PayDisputed
	case p.ChargedBack > 0:
		return PayChargedBack
	case p.Refunded > 0 && p.Refunded >= p.Captured:
		return PayRefunded
	case p.Refunded > 0:
		return PayPartiallyRefunded
	case p.Captured == 0 && p.Authorized > 0:
		return PayAuthorized
	case p.Captured == 0:
		return PayUnpaid
	case total == 0 || p.Captured == total:
		return PayPaid
	case p.Captured > total:
		return PayOverpaid
	default:
		return PayPartiallyPaid
	}
}

// Order is an order as Tradewind holds it.
type Order struct {
	Ref           string
	Status        OrderStatus // pending, placed, fulfilled or cancelled as stored
	PaymentStatus PaymentStatus
	Currency      string
	Total         int64
	Lines         []Line
	Version       int64
	SnapshotAt    time.Time // OccurredAt of the snapshot applied
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// DisplayStatus is the status the API shows: a placed order that is fully paid is
// "confirmed".
func (o Order) DisplayStatus() OrderStatus {
	if o.Status == StatusPlaced && (o.PaymentStatus == PayPaid || o.PaymentStatus == PayOverpaid) {
		return StatusConfirmed
	}
	return o.Status
}

// NewerSnapshot reports whether a storefront snapshot (version, at, id) supersedes
// the one already applied (curVersion, curAt, curID). Versions compare first, then
// the provider's time, then the event id, so every replica and every arrival order
// picks the same winner.
func NewerSnapshot(version int64, at time.Time, id string, curVersion int64, curAt time.Time, curID string) bool {
	if version != curVersion {
		return version > curVersion
	}
	if !at.Equal(curAt) {
		return at.After(curAt)
	}
	return id > curID
}

// AppliedEvent is one line of an order's timeline.
type AppliedEvent struct {
	Type       EventType `json:"type"`
	Source     string    `json:"source"`
	EventID    string    `json:"event_id"`
	OccurredAt time.Time `json:"occurred_at"`
	AppliedAt  time.Time `json:"applied_at"`
	// Outcome is "applied", or "stale" for a snapshot older than the one held.
	Outcome string `json:"outcome"`
	// Origin is how the event reached Tradewind: OriginWebhook or OriginReconciliation.
	Origin string `json:"origin"`
}

// OrderReader reads orders for the API and the dashboard.
type OrderReader interface {
	// Order returns the order and its timeline of applied events, oldest first.
	// Returns ENOTFOUND if Tradewind has never heard of the order.
	Order(ctx context.Context, ref string) (Order, []AppliedEvent, error)
}
