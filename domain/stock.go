package domain

import (
	"context"
	"fmt"
	"time"
)

// Allocation states: what an order holds of a SKU.
const (
	AllocNone        = ""
	AllocReserved    = "reserved"    // placed, not paid: counted in reserved
	AllocCommitted   = "committed"   // paid or fulfilled: taken out of on_hand
	AllocBackordered = "backordered" // wanted, but there was no stock to reserve
)

// Stock ledger causes.
const (
	StockOrder         = "order"          // an order reserved stock
	StockPayment       = "payment"        // a payment committed it
	StockCancel        = "cancel"         // a cancellation released or restocked it
	StockPaymentFailed = "payment_failed" // a failed payment released it
	StockRefund        = "refund"         // a refund with restock returned it
	StockExpiry        = "expiry"         // a checkout reservation expired
	StockReservation   = "reservation"    // a checkout reserved stock
	StockRelease       = "release"        // a checkout released its reservation
	StockStorefrontSet = "storefront_set" // a storefront stated an absolute level
	StockManualSet     = "manual_set"     // a person set the level through the API
	StockReconcile     = "reconciliation" // the nightly reconciliation corrected it
)

// OrderFacts is what the stock rule needs to know about an order.
type OrderFacts struct {
	Status        OrderStatus
	PaymentStatus PaymentStatus
	// FailedOnly is true when a payment failed and nothing was ever captured.
	FailedOnly bool
	// Restocked is true when the order was refunded in full with goods returned.
	Restocked bool
}

// DesiredAllocation is the stock rule: what an order should hold of its lines,
// derived from the order's current state alone, so the same state gives the same
// stock whatever order the events arrived in.
//
//   - cancelled, or refunded in full with restock → nothing (reservations released,
//     committed units restocked)
//   - fulfilled, or money captured (paid, overpaid, partially refunded, refunded
//     without restock, disputed, charged back) → committed, less the units refunds
//     returned to stock line by line (OrderState.Restocked; see Settle)
//   - a failed payment and nothing captured → nothing (released until a payment succeeds)
//   - placed and not (fully) paid → reserved
//   - known only from a payment (pending, no lines) → nothing
func DesiredAllocation(f OrderFacts) string {
	switch {
	case f.Status == StatusCancelled || f.Status == StatusPending || f.Restocked:
		return AllocNone
	case f.Status == StatusFulfilled:
		return AllocCommitted
	}
	switch f.PaymentStatus {
	case PayPaid, PayOverpaid, PayPartiallyRefunded, PayRefunded, PayDisputed, PayChargedBack:
		return AllocCommitted
	}
	if f.FailedOnly {
		return AllocNone
	}
	return AllocReserved
}

// StockLevel of a SKU as the API shows it.
type Stock struct {
	SKU       string    `json:"sku"`
	OnHand    int64     `json:"on_hand"`
	Reserved  int64     `json:"reserved"`
	Available int64     `json:"available"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Inventory reads and sets stock.
type Inventory interface {
	// Stock returns a SKU's counters. Returns ENOTFOUND for a SKU never seen.
	Stock(ctx context.Context, sku string) (Stock, error)
	// SetOnHand sets a SKU's on-hand level as of at, recording cause in the
	// ledger. Returns ECONFLICT when the level is below what is reserved.
	SetOnHand(ctx context.Context, sku string, onHand int64, at time.Time, cause string) (Stock, error)
}

// LevelDecision is how an absolute stock level is absorbed.
type LevelDecision struct {
	Stale    bool  // older than the level applied: it changes nothing
	OnHand   int64 // on_hand after it
	Oversold int64 // units it fell short of what is reserved (on_hand is held at the reserved count)
	Stamp    LevelStamp
	Conflict *ConflictChange // the SKU's conflict it opens or resolves by rule, if any
}

// AbsorbLevel decides how a level stated as of stamp is applied to a SKU:
//
//   - a level at or before the one applied is stale and changes nothing (recorded
//     as a resolved stale_stock_level conflict), except that a level of
//     Tradewind's own never loses to an earlier own level: between two of them
//     arrival decides, and the new stamp is moved just past the old one;
//   - otherwise on_hand becomes the level plus later, the changes recorded for
//     events after its time (the changes at or before it are in the level);
//   - a result below what is reserved is held at the reserved count and opens an
//     oversold conflict on the SKU.
//
// source and eventID describe where the level came from, for the conflict.
func AbsorbLevel(cur SKUStock, level int64, stamp LevelStamp, later int64, source, eventID string) LevelDecision {
	if prev := cur.Level; prev != nil && !stamp.At.After(prev.At) {
		if !(stamp.Own && prev.Own) {
			return LevelDecision{Stale: true, OnHand: cur.OnHand, Stamp: *prev, Conflict: &ConflictChange{
				Kind: ConflictStaleStock, State: ConflictResolved, ResolvedBy: ResolvedByRule, Resolved: true,
				Rule:   "ignored: older than the level already applied",
				Detail: fmt.Sprintf("%s stated %d units as of %s, older than the level applied", source, level, stamp.At.UTC().Format(time.RFC3339)),
				Event:  eventID,
			}}
		}
		stamp.At = prev.At.Add(time.Microsecond) // the database keeps microseconds
	}
	d := LevelDecision{OnHand: level + later, Stamp: stamp}
	if d.OnHand < cur.Reserved {
		d.Oversold, d.OnHand = cur.Reserved-d.OnHand, cur.Reserved
		d.Conflict = &ConflictChange{Kind: ConflictOversold, State: ConflictOpen, Event: eventID,
			Detail: fmt.Sprintf("%s stated %d units, %d fewer than are reserved; on_hand held at the reserved count: cancel orders or restock", source, level, d.Oversold)}
	}
	return d
}
