package domain

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DownstreamType is the type of an event Tradewind sends to its destinations.
// The strings are permanent: receivers switch on them.
type DownstreamType string

// Downstream event types.
const (
	DownOrderPlaced      DownstreamType = "order.placed"
	DownOrderUpdated     DownstreamType = "order.updated"
	DownOrderPaid        DownstreamType = "order.paid"
	DownOrderCancelled   DownstreamType = "order.cancelled"
	DownOrderRefunded    DownstreamType = "order.refunded"
	DownOrderDisputed    DownstreamType = "order.disputed"
	DownCustomerUpserted DownstreamType = "customer.upserted"
	DownStockChanged     DownstreamType = "stock.changed"
)

// DownstreamTypes are every downstream event type, in the order they are listed.
var DownstreamTypes = []DownstreamType{DownOrderPlaced, DownOrderUpdated, DownOrderPaid, DownOrderCancelled,
	DownOrderRefunded, DownOrderDisputed, DownCustomerUpserted, DownStockChanged}

// Destination kinds.
const (
	DestinationWebhook          = "webhook"
	DestinationHubSpot          = "hubspot"
	DestinationShopifyInventory = "shopify_inventory"
)

// Destination is a downstream destination as the sources file declares it.
type Destination struct {
	ID      string
	Kind    string
	URL     string
	Secrets []string         // Standard Webhooks secrets, newest first (webhook)
	Events  []DownstreamType // the event types it wants; empty: all
	Timeout time.Duration    // per request
	// RateLimit is requests per second at most; 0 is unlimited.
	RateLimit   float64
	MaxAttempts int // every attempt counts, the first included; then the delivery is dead
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	// BreakerFailures consecutive failures open the destination's circuit breaker,
	// for BreakerCooldown; then one request probes it.
	BreakerFailures int
	BreakerCooldown time.Duration
	// Debounce is how long a coalesced stock push waits for more changes before
	// it runs (shopify_inventory).
	Debounce time.Duration
	// Stock is what a stock destination publishes of every SKU, and SKUStock
	// overrides it for single SKUs (shopify_inventory).
	Stock    StockPolicy
	SKUStock map[string]StockOverride
	// Settings are the kind's own keys (token, source, location_id, ...).
	Settings map[string]string
}

// CoalescedStockKey is the event key of a destination's stock pushes for sku:
// one row per SKU, reset to pending by every change (see Destination.Coalesces).
func CoalescedStockKey(sku string) string { return string(DownStockChanged) + "/" + sku }

// Coalesces reports whether the destination takes stock changes as one pending
// push per SKU (it publishes the level when the push runs) rather than one
// delivery per change.
func (d Destination) Coalesces() bool { return d.Kind == DestinationShopifyInventory }

// Destination defaults.
const (
	DefaultDestinationTimeout  = 10 * time.Second
	DefaultMaxDeliveryAttempts = 12
	DefaultMinBackoff          = 5 * time.Second
	DefaultMaxBackoff          = time.Hour
	DefaultBreakerFailures     = 5
	DefaultBreakerCooldown     = 30 * time.Second
)

// Wants reports whether the destination takes events of type t.
func (d Destination) Wants(t DownstreamType) bool {
	return len(d.Events) == 0 || slices.Contains(d.Events, t)
}

// DownstreamFacts are what Tradewind has told downstream about an order: the facts
// its events are decided from. Comparing the facts before and after a decision,
// rather than looking at the incoming event, is what keeps a duplicated or
// reworded webhook (two provider events for one payment) from making a second
// delivery of the same fact.
type DownstreamFacts struct {
	Placed        bool          `json:"placed"`  // a storefront snapshot was applied
	Content       string        `json:"content"` // digest of the snapshot's currency, total and lines
	Status        OrderStatus   `json:"status"`  // the effective status
	PaymentStatus PaymentStatus `json:"payment_status"`
	Refunded      int64         `json:"refunded"`
	Disputed      bool          `json:"disputed"`
}

// FactsOf returns the facts of an order from its loaded state and the decisions
// taken on it.
func FactsOf(st OrderState, d Decisions) DownstreamFacts {
	status := st.Status
	if d.LocalStatus != "" {
		status = d.LocalStatus
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d", st.Currency, st.Total)
	for _, l := range st.Lines {
		fmt.Fprintf(h, "|%s:%d:%d", l.SKU, l.Quantity, l.UnitPrice)
	}
	return DownstreamFacts{
		Placed: st.HasSnapshot, Content: base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12]),
		Status: status, PaymentStatus: d.PaymentStatus, Refunded: st.Payments.Refunded, Disputed: st.Payments.Disputed,
	}
}

// OrderEvents decides which downstream events an order's change of facts makes,
// in the order a receiver should see them. An order known only from its payments
// is not placed: it makes order.paid and the like, and order.placed once its
// storefront snapshot arrives.
func OrderEvents(before, after DownstreamFacts) []DownstreamType {
	var out []DownstreamType
	switch {
	case after.Placed && !before.Placed:
		out = append(out, DownOrderPlaced)
	case after.Placed && after.Content != before.Content:
		out = append(out, DownOrderUpdated)
	}
	paid := func(s PaymentStatus) bool { return s == PayPaid || s == PayOverpaid }
	if paid(after.PaymentStatus) && !paid(before.PaymentStatus) {
		out = append(out, DownOrderPaid)
	}
	if after.Refunded > before.Refunded {
		out = append(out, DownOrderRefunded)
	}
	if after.Disputed && !before.Disputed {
		out = append(out, DownOrderDisputed)
	}
	if after.Status == StatusCancelled && before.Status != StatusCancelled {
		out = append(out, DownOrderCancelled)
	}
	return out
}

// StockChanges returns the SKUs whose available quantity (on hand less reserved)
// differs between before and after, sorted. A SKU missing from before counts as
// changed.
func StockChanges(before, after map[string]SKUStock) []string {
	var out []string
	for sku, a := range after {
		b, ok := before[sku]
		if !ok || a.OnHand-a.Reserved != b.OnHand-b.Reserved {
			out = append(out, sku)
		}
	}
	slices.Sort(out)
	return out
}

// Outgoing is one downstream event to deliver to every destination that wants it.
type Outgoing struct {
	Type DownstreamType
	// Key names the fact, unique per destination: a second delivery with the same
	// key is never made.
	Key      string
	OrderRef string
	SKU      string
	Sequence int64           // the order's downstream sequence when decided (0: none)
	Data     json.RawMessage // a payload fixed at decision time (customer.upserted); nil: rendered when sent
}

// OrderOutgoing returns the deliveries of an order's events, the seq-th change of
// its facts.
func OrderOutgoing(ref string, seq int64, types []DownstreamType) []Outgoing {
	out := make([]Outgoing, len(types))
	for i, t := range types {
		out[i] = Outgoing{Type: t, Key: fmt.Sprintf("%s/%s/%d", t, ref, seq), OrderRef: ref, Sequence: seq}
	}
	return out
}

// CustomerData is the body's data of customer.upserted.
type CustomerData struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	OrderRef string `json:"order_ref"`
}

// WebhookID is the webhook-id of a fact sent to a destination: derived from both,
// so it is the same on every attempt and every replay.
func WebhookID(destination, key string) string {
	sum := sha256.Sum256([]byte(destination + "\x00" + key))
	return "msg_" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// Backoff is the delay before the retry that follows the n-th failed attempt
// (n ≥ 1): min doubled n−1 times, capped at max, with full jitter (jitter returns
// a uniform duration in [0, d]) and never below min.
func Backoff(n int, minD, maxD time.Duration, jitter func(d time.Duration) time.Duration) time.Duration {
	if maxD < minD {
		maxD = minD
	}
	ceiling := minD
	for i := 1; i < n && ceiling < maxD; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, maxD)
	return max(jitter(ceiling), minD)
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"   // not tried yet (or queued again by a retry)
	DeliveryDelivered DeliveryStatus = "delivered" // the destination took it
	DeliveryFailed    DeliveryStatus = "failed"    // an attempt failed; it will be retried
	DeliveryDead      DeliveryStatus = "dead"      // out of attempts; retry it by hand
)

// ParseDeliveryStatus returns EINVALID for anything but the four statuses.
func ParseDeliveryStatus(s string) (DeliveryStatus, error) {
	switch st := DeliveryStatus(s); st {
	case DeliveryPending, DeliveryDelivered, DeliveryFailed, DeliveryDead:
		return st, nil
	}
	return "", Errorf(EINVALID, "status %q is not a delivery status; use pending, delivered, failed or dead", s)
}

// Outbound is one fact to deliver to one destination.
type Outbound struct {
	ID             int64
	Destination    string
	Type           DownstreamType
	Key            string
	OrderRef       string
	SKU            string
	Sequence       int64
	Data           json.RawMessage
	WebhookID      string
	Generation     int // changes folded into a coalesced row (stock pushes)
	Status         DeliveryStatus
	Attempts       int
	LastStatusCode int
	LastError      string
	NextAttemptAt  time.Time // zero: none planned
	CreatedAt      time.Time
	DeliveredAt    time.Time
}

// DeliveryAttempt is one attempt at a delivery, as recorded.
type DeliveryAttempt struct {
	At         time.Time
	StatusCode int // 0: no answer
	Latency    time.Duration
	Error      string        // empty when delivered; never a secret, bounded
	RetryIn    time.Duration // the delay chosen before the next attempt (0: none)
}

// DeliveryFilter selects deliveries, newest first.
type DeliveryFilter struct {
	Destination string
	Status      DeliveryStatus
	OrderRef    string
	Limit       int
	After       int64 // ids below this (paging backwards); 0: from the newest
}

// DeliveryOutcome is how an attempt ended, for the store to record.
type DeliveryOutcome struct {
	Attempt DeliveryAttempt
	Status  DeliveryStatus // delivered, failed (retry at NextAt) or dead
	NextAt  time.Time
	// Generation is the delivery's generation when the attempt began: a coalesced
	// delivery changed since is not delivered by it but pending again.
	Generation int
}

// Deliveries is the outbox of downstream deliveries.
type Deliveries interface {
	// Delivery returns a delivery and its attempts, oldest first. Returns ENOTFOUND.
	Delivery(ctx context.Context, id int64) (Outbound, []DeliveryAttempt, error)
	// List returns deliveries matching f, newest first.
	List(ctx context.Context, f DeliveryFilter) ([]Outbound, error)
	// BeginAttempt counts an attempt at a delivery before it is made, so an
	// attempt that dies with its worker still counts. Returns ENOTFOUND.
	BeginAttempt(ctx context.Context, id int64) (Outbound, error)
	// FinishAttempt records how the attempt begun last ended, and returns the
	// delivery's status after it (pending when a delivered coalesced delivery
	// changed meanwhile: it must be sent again).
	FinishAttempt(ctx context.Context, id int64, o DeliveryOutcome) (DeliveryStatus, error)
	// Retry queues a delivery again with its attempts counted from zero, keeping
	// its webhook id. Returns ENOTFOUND.
	Retry(ctx context.Context, id int64) (Outbound, error)
	// RetryMatching queues again up to limit deliveries of destination in status
	// created in [since, until) (zero times: open) with ids above after, the
	// lowest first, and returns them: one page of a bulk retry (RetryAll).
	RetryMatching(ctx context.Context, destination string, status DeliveryStatus, since, until time.Time, after int64, limit int) ([]Outbound, error)
}

// DeliveryRetrier is the part of Deliveries a bulk retry uses.
type DeliveryRetrier interface {
	RetryMatching(ctx context.Context, destination string, status DeliveryStatus, since, until time.Time, after int64, limit int) ([]Outbound, error)
}

// RetryPage is how many deliveries one page of a bulk retry marks, in a
// transaction of its own: a retry of a long outage's backlog neither holds a
// million rows locked nor reads them into memory at once.
const RetryPage = 1000

// RetryAll queues again every delivery of destination in status created in
// [since, until), a page (RetryPage) at a time, handing each page to each (which
// queues its tasks), and returns how many were marked. It stops at the first
// error, each's included.
func RetryAll(ctx context.Context, d DeliveryRetrier, destination string, status DeliveryStatus, since, until time.Time, each func([]Outbound) error) (int, error) {
	total, after := 0, int64(0)
	for {
		page, err := d.RetryMatching(ctx, destination, status, since, until, after, RetryPage)
		if err != nil {
			return total, err
		}
		total += len(page)
		for _, o := range page {
			after = max(after, o.ID)
		}
		if len(page) > 0 {
			if err := each(page); err != nil {
				return total, err
			}
		}
		if len(page) < RetryPage {
			return total, nil
		}
	}
}

// DestinationState is what Tradewind holds about a destination at run time.
type DestinationState struct {
	ID             string
	Kind           string
	Enabled        bool
	DisabledReason string
	Breaker        string // closed, open or half_open, as the workers last reported it
}

// Breaker states as the API shows them.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half_open"
)

// Destinations holds destinations' run-time state.
type Destinations interface {
	// States returns the state of each destination id (enabled and closed when
	// nothing is recorded).
	States(ctx context.Context, ids []string) (map[string]DestinationState, error)
	// Disable disables a destination with a reason a person reads.
	Disable(ctx context.Context, id, reason string) error
	// Enable enables it again.
	Enable(ctx context.Context, id string) error
	// SetBreaker records a destination's breaker state.
	SetBreaker(ctx context.Context, id, state string) error
}

// ValidDownstreamType reports whether s names a downstream event type.
func ValidDownstreamType(s string) bool {
	return slices.Contains(DownstreamTypes, DownstreamType(s))
}

// DownstreamTypeList is the event types as a comma-separated list, for messages.
func DownstreamTypeList() string {
	s := make([]string, len(DownstreamTypes))
	for i, t := range DownstreamTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// DeliveryRef names a delivery whose task is to be queued.
type DeliveryRef struct {
	ID          int64  `db:"id"`
	Destination string `db:"destination"`
	EventType   string `db:"event_type"`
	SKU         string `db:"sku"`
}

// SendResult is how one attempt at a destination went.
type SendResult struct {
	StatusCode int           // 0: no answer (refused, timed out)
	Latency    time.Duration // from sending the request to the end of the answer
	Err        error         // nil: delivered; otherwise what failed, bounded and free of secrets
	// RetryAfter is the destination's own Retry-After (on 429 or 503); 0: none.
	RetryAfter time.Duration
	// Gone is true when the destination answered 410: it must not be called again
	// until a person enables it.
	Gone bool
	// Local is true when the failure is Tradewind's own (the body could not be
	// rendered, a secret is malformed): it does not count against the destination.
	Local bool
}

// Sender delivers to destinations of one kind.
type Sender interface {
	// Send makes one attempt at delivering o to d; now stamps the message.
	Send(ctx context.Context, d Destination, o Outbound, now time.Time) SendResult
}

// OrderDocument is an order as GET /api/v1/orders/{ref} shows it: the data of an
// order event's body.
type OrderDocument struct {
	Ref           string         `json:"ref"`
	Status        OrderStatus    `json:"status"`
	PaymentStatus PaymentStatus  `json:"payment_status"`
	Currency      string         `json:"currency"`
	Total         int64          `json:"total"`
	Lines         []LineDocument `json:"lines"`
	Events        []AppliedEvent `json:"events"`
	Conflicts     []Conflict     `json:"conflicts"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// LineDocument is an order line as the API shows it.
type LineDocument struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// NewOrderDocument returns the document of an order, its timeline and conflicts.
func NewOrderDocument(o Order, events []AppliedEvent, conflicts []Conflict) OrderDocument {
	lines := make([]LineDocument, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = LineDocument{SKU: l.SKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice}
	}
	if events == nil {
		events = []AppliedEvent{}
	}
	if conflicts == nil {
		conflicts = []Conflict{}
	}
	return OrderDocument{Ref: o.Ref, Status: o.DisplayStatus(), PaymentStatus: o.PaymentStatus, Currency: o.Currency,
		Total: o.Total, Lines: lines, Events: events, Conflicts: conflicts, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// StockPolicy is how much of a SKU's available stock a stock destination
// publishes: what is available less SafetyBuffer, never below zero, capped by
// MaxPublished when set. Channels that sell the same stock each hold some back,
// so that the time a push takes to reach them does not oversell.
type StockPolicy struct {
	SafetyBuffer int64
	MaxPublished *int64 // nil: no cap
}

// StockOverride is one SKU's own safety_buffer and max_published; a nil field
// keeps the destination's.
type StockOverride struct {
	SafetyBuffer *int64
	MaxPublished *int64
}

// StockPolicyOf returns the effective policy of sku at the destination: its
// override's values where set, the destination's elsewhere.
func (d Destination) StockPolicyOf(sku string) StockPolicy {
	p := d.Stock
	o, ok := d.SKUStock[sku]
	if !ok {
		return p
	}
	if o.SafetyBuffer != nil {
		p.SafetyBuffer = *o.SafetyBuffer
	}
	if o.MaxPublished != nil {
		p.MaxPublished = o.MaxPublished
	}
	return p
}

// PublishedLevel is what a stock destination publishes of a SKU with the SKU's
// effective policy (Destination.StockPolicyOf): max(available − safety buffer, 0),
// capped by max published when set.
func PublishedLevel(available int64, p StockPolicy) int64 {
	v := max(available-p.SafetyBuffer, 0)
	if p.MaxPublished != nil {
		v = min(v, *p.MaxPublished)
	}
	return v
}

// PublishedStock is what a stock destination last published of a SKU and when the
// channel confirmed it.
type PublishedStock struct {
	Destination string    `json:"destination" db:"destination"`
	SKU         string    `json:"sku" db:"sku"`
	Published   int64     `json:"published" db:"published"`
	ConfirmedAt time.Time `json:"confirmed_at" db:"confirmed_at"`
}
