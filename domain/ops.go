package domain

import (
	"context"
	"time"
)

// What ops (the dashboard and the list endpoints of the API) read across the
// store: lists paged by key, never by offset, so a page costs the same on the
// millionth row as on the first, and "who names this order?".

// OrderFilter selects orders for a list, newest change first. Empty fields match
// everything.
type OrderFilter struct {
	Status        OrderStatus   // as the API shows it (confirmed is placed and paid)
	PaymentStatus PaymentStatus //
	UpdatedSince  time.Time     // only orders changed at or after this time
	Limit         int
	After         *OrderCursor // the page after this order (the last of the previous page)
}

// OrderCursor is an order's position in the list: (updated_at, ref) descending.
type OrderCursor struct {
	UpdatedAt time.Time
	Ref       string
}

// StockFilter selects SKUs for a list, in SKU order.
type StockFilter struct {
	Tracked     *bool  // tracked: some level was ever set (storefront, person or reconciliation)
	Below       *int64 // only SKUs whose available count is below this
	Backordered bool   // only SKUs some order waits for
	Limit       int
	After       string // the page after this SKU
}

// StockRow is one SKU as the inventory list shows it.
type StockRow struct {
	Stock
	// Tracked is false for a SKU that orders named but whose level nobody ever
	// set: its zero on hand means "unknown", not "none".
	Tracked     bool  `json:"tracked"`
	Backordered int64 `json:"backordered"` // units orders wait for
}

// OrderRequests are the requests that name one order: stored webhooks (whether
// applied or not) and refused requests.
type OrderRequests struct {
	// Webhooks are stored entries, newest first, without bodies. OrderRef is set
	// on each; OrderRefVerified is true when an applied event named the order.
	Webhooks []InboxEntry
	// Rejections are refused requests whose unverified body named the order,
	// newest first (those of a stored entry are shown by the entry).
	Rejections []Rejection
}

// RejectionFilter selects refused requests, newest first.
type RejectionFilter struct {
	Source   string
	Cause    string
	Limit    int
	BeforeID int64
}

// AuditEntry is one action a person took in the dashboard or through the API.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // an operator's name, or "api-token"
	Action string    `json:"action"` // replay, resolve, set_level
	Target string    `json:"target"` // what it acted on: a webhook id, a conflict id, a SKU
	Detail string    `json:"detail,omitempty"`
}

// HourCount is how many webhooks of one source had one outcome in one hour.
type HourCount struct {
	Hour   time.Time
	Source string
	Status string
	N      int
}

// LedgerLine is one change to a SKU's counters.
type LedgerLine struct {
	ID            int64     `json:"id"`
	Cause         string    `json:"cause"`
	DeltaOnHand   int64     `json:"delta_on_hand"`
	DeltaReserved int64     `json:"delta_reserved"`
	OrderRef      string    `json:"order_ref,omitempty"`
	Source        string    `json:"source,omitempty"`
	EventID       string    `json:"event_id,omitempty"`
	OccurredAt    time.Time `json:"occurred_at"`
}

// PaymentLine is a payment, refund or dispute of an order, as the order page lists it.
type PaymentLine struct {
	Kind     string // payment, refund or dispute
	Provider string
	Ref      string
	Amount   int64 // minor units: captured (or authorized) for a payment
	Currency string
	Status   string // authorized, captured, failed; a dispute's status
}

// OrderHolding is what an order holds of one SKU.
type OrderHolding struct {
	SKU      string
	Quantity int64
	State    string // reserved, committed or backordered
}

// NormalizedEvent is one event a stored webhook was applied as, with the event
// as recorded (JSON).
type NormalizedEvent struct {
	AppliedEvent
	OrderRef string
	JSON     string
}

// OpsReader reads what the ops pages and list endpoints show.
type OpsReader interface {
	// OrderRequests returns the stored webhooks and refused requests that name
	// ref, at most limit of each.
	OrderRequests(ctx context.Context, ref string, limit int) (OrderRequests, error)
	// Orders returns a page of orders, newest change first.
	Orders(ctx context.Context, f OrderFilter) ([]Order, error)
	// FindOrders returns the refs of orders a search names: an order ref, a
	// customer's email or a payment's reference (at most limit).
	FindOrders(ctx context.Context, q string, limit int) ([]string, error)
	// StockList returns a page of SKUs in SKU order.
	StockList(ctx context.Context, f StockFilter) ([]StockRow, error)
	// Ledger returns a SKU's newest ledger lines, at most limit.
	Ledger(ctx context.Context, sku string, limit int) ([]LedgerLine, error)
	// Payments returns an order's payments, refunds and disputes.
	Payments(ctx context.Context, ref string) ([]PaymentLine, error)
	// Holdings returns what an order holds of each SKU.
	Holdings(ctx context.Context, ref string) ([]OrderHolding, error)
	// RejectionList returns refused requests, newest first.
	RejectionList(ctx context.Context, f RejectionFilter) ([]Rejection, error)
	// HourlyCounts returns webhooks per hour, source and status since a time.
	HourlyCounts(ctx context.Context, since time.Time) ([]HourCount, error)
	// ActiveReservations returns a SKU's checkout reservations still held, soonest
	// to expire first, at most limit.
	ActiveReservations(ctx context.Context, sku string, limit int) ([]Reservation, error)
	// EventsOf returns the normalized events a stored webhook was applied as.
	EventsOf(ctx context.Context, inboxID int64) ([]NormalizedEvent, error)
	// RecordAction writes an audit entry.
	RecordAction(ctx context.Context, a AuditEntry) error
	// Actions returns the newest audit entries, at most limit.
	Actions(ctx context.Context, limit int) ([]AuditEntry, error)
}
