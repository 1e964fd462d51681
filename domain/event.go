package domain

import "time"

// EventType names a normalized domain event.
type EventType string

// The domain events every provider normalizes into.
const (
	OrderPlaced       EventType = "OrderPlaced"
	OrderUpdated      EventType = "OrderUpdated"
	OrderCancelled    EventType = "OrderCancelled"
	OrderFulfilled    EventType = "OrderFulfilled"
	PaymentAuthorized EventType = "PaymentAuthorized"
	PaymentSucceeded  EventType = "PaymentSucceeded"
	PaymentFailed     EventType = "PaymentFailed"
	PaymentRefunded   EventType = "PaymentRefunded"
	// RefundFailed says a refund the provider had reported did not go through (Stripe
	// refund.failed, a refund updated to failed or canceled; Adyen REFUND_FAILED): it
	// stops counting, whenever it arrives. Payment.RefundRef names the refund.
	RefundFailed      EventType = "RefundFailed"
	DisputeOpened     EventType = "DisputeOpened"
	DisputeClosed     EventType = "DisputeClosed"
	InventoryLevelSet EventType = "InventoryLevelSet"
	CustomerUpserted  EventType = "CustomerUpserted"
)

// Event is one normalized fact from a provider. Exactly one of Order, Payment,
// Dispute, Stock and Customer is set, matching Type's family.
type Event struct {
	Type     EventType `json:"type"`
	Provider string    `json:"provider"`
	Source   string    `json:"source"`
	// EventID is unique per source: the message id, suffixed when one message
	// yields several events (":refund:re_123"). Apply records (source, event id)
	// as applied in the same transaction as the effect.
	EventID string `json:"event_id"`
	// OccurredAt is the provider's own time for the fact (updated_at, created …).
	OccurredAt time.Time `json:"occurred_at"`
	// Version orders a resource's snapshots where the provider has a monotonic
	// version; adapters without one leave it 0 and OccurredAt orders them.
	Version int64 `json:"version,omitempty"`

	OrderRef    string `json:"order_ref,omitempty"`    // the storefront's order id, as a string
	PaymentRef  string `json:"payment_ref,omitempty"`  // the gateway's payment id
	CustomerRef string `json:"customer_ref,omitempty"` // the storefront's customer id

	Order    *OrderSnapshot `json:"order,omitempty"`
	Payment  *PaymentChange `json:"payment,omitempty"`
	Dispute  *Dispute       `json:"dispute,omitempty"`
	Stock    *StockLevel    `json:"stock,omitempty"`
	Customer *Customer      `json:"customer,omitempty"`
}

// OrderStatus is an order's lifecycle state as Tradewind keeps it.
type OrderStatus string

// Order statuses. "pending" is an order known only from a payment that named it;
// "confirmed" is a placed order that is fully paid.
const (
	StatusPending   OrderStatus = "pending"
	StatusPlaced    OrderStatus = "placed"
	StatusConfirmed OrderStatus = "confirmed"
	StatusFulfilled OrderStatus = "fulfilled"
	StatusCancelled OrderStatus = "cancelled"
)

// OrderSnapshot is a storefront's full view of an order at OccurredAt/Version.
type OrderSnapshot struct {
	Status   OrderStatus `json:"status"` // placed, fulfilled or cancelled
	Currency string      `json:"currency"`
	Total    int64       `json:"total"` // minor units
	Lines    []Line      `json:"lines,omitempty"`
}

// Line is one order line.
type Line struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"` // minor units
}

// PaymentChange is what a payment event says about one payment.
//
// Amounts are monotone facts so that events commute: PaymentAuthorized and
// PaymentSucceeded carry the payment's total authorized / captured amount so far;
// PaymentRefunded carries one refund (RefundRef set, Amount that refund) or, when the
// provider names no refund, the payment's total refunded so far (RefundRef empty).
type PaymentChange struct {
	Amount    int64  `json:"amount"` // minor units
	Currency  string `json:"currency"`
	RefundRef string `json:"refund_ref,omitempty"`
	// Restock is a refund that returns the whole order's goods to stock, for a
	// provider that says so without naming lines: it acts once the order is refunded
	// in full. RestockLines, when the provider names them, say which units of which
	// SKUs this refund put back, and act whatever the amount.
	Restock      bool          `json:"restock,omitempty"`
	RestockLines []RestockLine `json:"restock_lines,omitempty"`
	Reason       string        `json:"reason,omitempty"` // failure or refund reason, as the provider gives it
}

// RestockLine is a quantity of one SKU a refund returned to stock.
type RestockLine struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Dispute is one fact about a chargeback or dispute on a payment: where in its
// lifecycle the dispute stands after the event that states it.
type Dispute struct {
	Ref      string `json:"ref"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Status   string `json:"status"` // provider's status: needs_response, won, lost, …
	Reason   string `json:"reason,omitempty"`
	// Outcome is DisputeOpen while the dispute can still go either way, DisputeWon when
	// the money stayed or came back, DisputeLost when the money was taken back for good
	// (as far as this stage goes).
	Outcome string `json:"outcome,omitempty"`
	// Stage is the provider's lifecycle stage the fact belongs to, counted from 1:
	// a later stage supersedes an earlier one whatever order they arrive in (an Adyen
	// CHARGEBACK_REVERSED supersedes the CHARGEBACK, a SECOND_CHARGEBACK the reversal).
	Stage int `json:"stage,omitempty"`
}

// Dispute outcomes.
const (
	DisputeOpen = "open"
	DisputeWon  = "won"
	DisputeLost = "lost"
)

// DisputeRank orders the facts about one dispute so that keeping the highest is the
// same whatever order they arrived in: a later stage wins; within a stage a final
// outcome beats open and lost beats won (a provider never states both, and a lost
// dispute is the one whose money must not be shown as kept). Storage keeps the fact
// of the highest rank, ties broken by the status text.
func DisputeRank(d Dispute) int64 {
	o := int64(0)
	switch d.Outcome {
	case DisputeWon:
		o = 1
	case DisputeLost:
		o = 2
	}
	return int64(d.Stage)*3 + o
}

// Closed reports whether the fact closes the dispute.
func (d Dispute) Closed() bool { return d.Outcome == DisputeWon || d.Outcome == DisputeLost }

// StockLevel is an absolute stock level for a SKU as a storefront states it.
type StockLevel struct {
	SKU    string `json:"sku"`
	OnHand int64  `json:"on_hand"`
}

// Customer is the CRM view of a customer. Only what the CRM needs: no card data.
type Customer struct {
	Email     string `json:"email,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
}
