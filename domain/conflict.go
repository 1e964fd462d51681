package domain

import (
	"context"
	"time"
)

// Conflict kinds.
const (
	ConflictPaidAfterCancelled   = "paid_after_cancelled"   // money captured on a cancelled order: refund needed
	ConflictAmountMismatch       = "amount_mismatch"        // captured differs from the order total
	ConflictRefundExceedsCapture = "refund_exceeds_capture" // more refunded than captured
	ConflictCurrencyMismatch     = "currency_mismatch"      // a payment in another currency than the order
	ConflictOversold             = "oversold"               // an order wanted stock that was not there
	ConflictDispute              = "dispute"                // a dispute was opened
	ConflictStaleStock           = "stale_stock_level"      // a stock level older than the one applied
)

// Conflict states.
const (
	ConflictOpen     = "open"
	ConflictResolved = "resolved"
)

// Conflict is a contradiction between sources that Tradewind recorded.
type Conflict struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	State      string     `json:"state"`
	OrderRef   string     `json:"order_ref,omitempty"`
	SKU        string     `json:"sku,omitempty"`
	Detail     string     `json:"detail"`
	Rule       string     `json:"rule,omitempty"` // the rule that resolved it, or "" while open
	Note       string     `json:"note,omitempty"` // what the person who resolved it wrote
	Events     []string   `json:"events"`         // the event ids behind it
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// ConflictFilter selects conflicts; empty fields match everything.
type ConflictFilter struct {
	State    string
	Kind     string
	OrderRef string
	Limit    int
}

// Conflicts lists and resolves conflicts.
type Conflicts interface {
	// List returns conflicts, newest first.
	List(ctx context.Context, f ConflictFilter) ([]Conflict, error)
	// Resolve closes an open conflict with a person's note. Returns ENOTFOUND if
	// there is no such conflict and ECONFLICT if it is already resolved.
	Resolve(ctx context.Context, id int64, note string) (Conflict, error)
}
