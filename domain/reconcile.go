package domain

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"
)

// Conflict kinds the nightly reconciliation opens.
const (
	// ConflictReconciliationMismatch: the provider holds a record differently
	// (status, amount or currency) and no event it lists explains the difference.
	ConflictReconciliationMismatch = "reconciliation_mismatch"
	// ConflictUnknownToProvider: Tradewind holds an event or a record the
	// provider's own listing does not know.
	ConflictUnknownToProvider = "unknown_to_provider"
)

// Origins of an inbox entry: how the message reached Tradewind.
const (
	OriginWebhook        = "webhook"        // the provider delivered it
	OriginReconciliation = "reconciliation" // the reconciliation fetched it from the provider's API
)

// Reconciliation run statuses.
const (
	ReconRunning   = "running"
	ReconCompleted = "completed"
	ReconFailed    = "failed"
)

// ReconciliationRequest is what to reconcile: a window of provider time, the
// sources (every source that can be reconciled when empty) and whether to
// change anything.
type ReconciliationRequest struct {
	Since   time.Time
	Until   time.Time // now when zero
	Sources []string
	DryRun  bool
	// TaskKey keys the report of a run a task started (see Reconciliation.TaskKey).
	TaskKey string
}

// Reconciliation is one run's report.
type Reconciliation struct {
	ID     int64     `json:"id"`
	Status string    `json:"status"` // running, completed or failed
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	DryRun bool      `json:"dry_run"`
	// Requested are the sources asked for; empty means every source that can be reconciled.
	Requested []string       `json:"requested_sources,omitempty"`
	Sources   []SourceReport `json:"sources"`
	// StockDriftFixed counts SKUs whose counters differed from their ledger and
	// were set back to it (in a dry run: would be).
	StockDriftFixed int `json:"stock_drift_fixed"`
	// StorefrontStock is what each stock destination's store showed beside what
	// Tradewind publishes (see StorefrontStockReport).
	StorefrontStock []StorefrontStockReport `json:"storefront_stock"`
	Error           string                  `json:"error,omitempty"` // why a failed run failed
	StartedAt       time.Time               `json:"started_at"`
	FinishedAt      *time.Time              `json:"finished_at"`
	// TaskKey, when set, keys a run started by a task: creating a report with a
	// key already stored returns that report.
	TaskKey string `json:"-"`
}

// SourceReport is what a run found for one source.
type SourceReport struct {
	Source     string `json:"source"`
	Compared   int    `json:"compared"`   // provider records and events looked at
	Missing    int    `json:"missing"`    // listed by the provider, unknown here
	Repaired   int    `json:"repaired"`   // missing ones applied through the apply path
	Mismatched int    `json:"mismatched"` // held differently here
	Conflicts  int    `json:"conflicts"`  // conflicts recorded (mismatches and records unknown to the provider)
	// Errors are what could not be done: a page that kept failing, an event that
	// would not apply. The run goes on past them.
	Errors []string `json:"errors"`
}

// ReconciliationStore keeps reconciliation reports.
type ReconciliationStore interface {
	// Create stores a new running report and returns it with its id and start
	// time; one with the TaskKey of a stored report returns that report.
	Create(ctx context.Context, r Reconciliation) (Reconciliation, error)
	// Save writes a report's status, sources, drift count, error and finish time.
	// Returns ENOTFOUND if there is no such report.
	Save(ctx context.Context, r Reconciliation) error
	// Get returns one report. Returns ENOTFOUND if there is none.
	Get(ctx context.Context, id int64) (Reconciliation, error)
	// List returns reports, newest first, at most limit.
	List(ctx context.Context, limit int) ([]Reconciliation, error)
}

// HeldState is a payment as one side holds it, in the terms both sides can
// state: the money's state, its amount (what was captured, or authorized when
// nothing was) and currency, all in ISO minor units.
type HeldState struct {
	Status   PaymentStatus // unpaid, authorized, paid, partially_refunded, refunded
	Amount   int64
	Currency string
	Failed   bool
}

// PaymentHeldState states a payment's facts as a HeldState.
func PaymentHeldState(authorized, captured, refunded int64, currency string, failed bool) HeldState {
	h := HeldState{Currency: currency, Failed: failed, Amount: captured}
	switch {
	case refunded > 0 && refunded >= captured:
		h.Status = PayRefunded
	case refunded > 0:
		h.Status = PayPartiallyRefunded
	case captured > 0:
		h.Status = PayPaid
	case authorized > 0:
		h.Status, h.Amount = PayAuthorized, authorized
	default:
		h.Status = PayUnpaid
	}
	return h
}

// Finding is what comparing a provider's record with Tradewind's decided.
type Finding int

const (
	// Agree: both sides hold the same.
	Agree Finding = iota
	// Missing: the provider has it, Tradewind does not; repair it.
	Missing
	// Mismatch: both hold it, differently; a person must look (a conflict).
	Mismatch
	// Unknown: Tradewind has it, the provider does not (a conflict).
	Unknown
)

// ComparePayment decides how a provider's payment (theirs) and Tradewind's
// (ours, nil when Tradewind holds none) compare. A provider failure or a payment
// not yet paid that Tradewind does not hold is not missing: there is nothing to
// apply. Detail names both values when they differ.
func ComparePayment(ref string, theirs HeldState, ours *HeldState) (Finding, string) {
	if ours == nil {
		if theirs.Status == PayUnpaid && !theirs.Failed {
			return Agree, ""
		}
		return Missing, fmt.Sprintf("payment %s: provider holds %s, Tradewind nothing", ref, describe(theirs))
	}
	if theirs.Currency != "" && ours.Currency != "" && theirs.Currency != ours.Currency {
		return Mismatch, fmt.Sprintf("payment %s: currency differs: provider %s, Tradewind %s", ref, theirs.Currency, ours.Currency)
	}
	if theirs.Status != ours.Status {
		return Mismatch, fmt.Sprintf("payment %s: status differs: provider %s, Tradewind %s", ref, describe(theirs), describe(*ours))
	}
	if theirs.Amount != ours.Amount {
		return Mismatch, fmt.Sprintf("payment %s: amount differs: provider %d %s, Tradewind %d %s", ref, theirs.Amount, theirs.Currency, ours.Amount, ours.Currency)
	}
	return Agree, ""
}

// CompareOrder decides how a storefront's order (theirs) and Tradewind's (ours,
// nil when Tradewind has none) compare: status, total and currency. Tradewind's
// "confirmed" is the storefront's placed, fully paid; "pending" (known only from
// a payment) means the storefront's order never arrived and is missing.
func CompareOrder(ref string, theirs OrderSnapshot, ours *Order) (Finding, string) {
	if ours == nil || ours.Status == StatusPending {
		return Missing, fmt.Sprintf("order %s: storefront holds it (%s, %d %s), Tradewind does not", ref, theirs.Status, theirs.Total, theirs.Currency)
	}
	st := ours.Status
	if st == StatusConfirmed {
		st = StatusPlaced
	}
	switch {
	case theirs.Currency != "" && theirs.Currency != ours.Currency:
		return Mismatch, fmt.Sprintf("order %s: currency differs: storefront %s, Tradewind %s", ref, theirs.Currency, ours.Currency)
	case theirs.Total != ours.Total:
		return Mismatch, fmt.Sprintf("order %s: total differs: storefront %d, Tradewind %d", ref, theirs.Total, ours.Total)
	case theirs.Status != "" && theirs.Status != st:
		return Mismatch, fmt.Sprintf("order %s: status differs: storefront %s, Tradewind %s", ref, theirs.Status, st)
	}
	return Agree, ""
}

func describe(h HeldState) string {
	s := string(h.Status)
	if h.Failed && h.Status == PayUnpaid {
		s = "failed"
	}
	return fmt.Sprintf("%s %d %s", s, h.Amount, h.Currency)
}

// ReconciliationConflict is the conflict a finding opens: a mismatch or a record
// unknown to the provider, open for a person (no rule resolves either). A
// conflict a person already resolved stays resolved (the store keeps it).
func ReconciliationConflict(f Finding, detail string, now time.Time, eventID string) (ConflictChange, bool) {
	var kind string
	switch f {
	case Mismatch:
		kind = ConflictReconciliationMismatch
	case Unknown:
		kind = ConflictUnknownToProvider
	default:
		return ConflictChange{}, false
	}
	return ConflictChange{Kind: kind, State: ConflictOpen, Detail: detail, HeldSince: now, Event: eventID}, true
}

// StockDrift is a SKU whose counters differ from the sums of its ledger.
type StockDrift struct {
	SKU                    string
	OnHand, Reserved       int64 // the counters
	LedgerOnHand, LedgerRs int64 // what the ledger sums to
}

// Fixable reports whether the ledger's counters are valid ones to set (the
// database refuses reserved above on hand or below zero); a drift that is not
// is reported for a person instead.
func (d StockDrift) Fixable() bool {
	return d.LedgerRs >= 0 && d.LedgerRs <= d.LedgerOnHand
}

// HeldEntry is an inbox entry as the reconciliation compares it with a
// provider's listing.
type HeldEntry struct {
	ID         int64
	EventID    string
	EventType  string
	OccurredAt time.Time
	Status     string
	OrderRef   string // the order its events touched, when applied
}

// HeldPayment is a payment as the reconciliation compares it, in ISO minor units.
type HeldPayment struct {
	Ref        string
	OrderRef   string
	Currency   string
	Authorized int64
	Captured   int64
	Refunded   int64 // refunds by id, or the reported running total, whichever is larger
	Failed     bool
}

// State states the payment as ComparePayment compares it.
func (p HeldPayment) State() HeldState {
	return PaymentHeldState(p.Authorized, p.Captured, p.Refunded, p.Currency, p.Failed)
}

// ReconcileStore is what the reconciliation reads and writes in Tradewind's
// own records.
type ReconcileStore interface {
	// Entries walks source's inbox entries of the given types whose provider time
	// is in [since, until], newest first, then by event id (bytes): a keyset
	// cursor, a page in memory at a time. Entries the reconciliation made up
	// itself (event ids "reconciliation:…") are left out.
	Entries(ctx context.Context, source string, since, until time.Time, types []string) iter.Seq2[HeldEntry, error]
	// Payments returns provider's payments with the given refs, in ref order (bytes).
	Payments(ctx context.Context, provider string, refs []string) ([]HeldPayment, error)
	// InsertReconciled stores a message fetched from the provider as an inbox
	// entry of origin reconciliation, status received. New is false when the
	// (source, event id) is stored already (a webhook brought it).
	InsertReconciled(ctx context.Context, e InboxEntry) (InsertResult, error)
	// RecordConflict records a conflict the reconciliation found; a person's
	// resolution of the same conflict stands.
	RecordConflict(ctx context.Context, orderRef string, ch ConflictChange) error
	// StorefrontOrders walks the orders whose applied snapshot came from source
	// with a provider time in [since, until], in RefOrder: a keyset cursor, a page
	// in memory at a time. Status is the storefront's as stored (not Tradewind's
	// own override).
	StorefrontOrders(ctx context.Context, source string, since, until time.Time) iter.Seq2[Order, error]
	// StorefrontOrder returns order ref as StorefrontOrders states it, or nil
	// when Tradewind holds none.
	StorefrontOrder(ctx context.Context, ref string) (*Order, error)
	// StockDrift returns the SKUs whose counters differ from their ledger's sums.
	StockDrift(ctx context.Context) ([]StockDrift, error)
	// FixDrift sets a SKU's counters to its ledger's sums, with the SKU locked,
	// and reports whether it changed anything.
	FixDrift(ctx context.Context, sku string) (bool, error)
}

// StorefrontOrder is an order as a storefront's own listing states it.
type StorefrontOrder struct {
	Ref string
	// Version is the storefront's version of the order, as its webhooks'
	// snapshots carry it (Event.Version: its updated time in unix milliseconds).
	Version  int64
	Snapshot OrderSnapshot
	// PaymentStatus is the storefront's word on the money (Shopify's
	// financial_status, WooCommerce's and BigCommerce's paid states) in
	// Tradewind's terms; "" when it states none Tradewind can compare.
	PaymentStatus PaymentStatus
	// Refunded reports whether the listing carries the refunds the storefront
	// sends as events of their own (Shopify's refunds/create), so that they can
	// be replayed.
	Refunded bool
}

// OrderRepair is what a storefront's listed order can replay of the webhooks
// Tradewind missed: the snapshot itself, the payment the storefront reports
// with it, its refunds.
type OrderRepair struct {
	Snapshot bool // Tradewind holds no snapshot, or an older one
	Paid     bool // the storefront says paid; Tradewind has captured less
	Refunds  bool // the storefront lists refunds Tradewind does not hold
}

// Any reports whether anything is to be replayed.
func (r OrderRepair) Any() bool { return r.Snapshot || r.Paid || r.Refunds }

// paidStates are the storefront payment states that mean the money was taken.
var paidStates = map[PaymentStatus]bool{PayPaid: true, PayPartiallyRefunded: true, PayRefunded: true}

// beyondStorefront are Tradewind payment states a storefront's listing cannot
// state (an overpayment, a dispute the gateway reported): not compared.
var beyondStorefront = map[PaymentStatus]bool{PayOverpaid: true, PayDisputed: true, "charged_back": true}

// CompareStorefrontOrder decides how a storefront's listed order (theirs) and
// Tradewind's (ours, nil when Tradewind has none; its Status the storefront's as
// stored, not Tradewind's own override) compare, and what to replay.
//
// Missing is what the listing can repair, because it is what the storefront's
// webhooks would have said: an order Tradewind does not hold (or knows only from
// a payment), or holds at an older version (an update it missed); a payment the
// storefront reports and Tradewind has not captured; refunds it lists that
// Tradewind does not hold. Anything else held differently at the same version —
// status, total, currency (CompareOrder) or the payment's state — is a
// Mismatch, detail naming both values.
func CompareStorefrontOrder(theirs StorefrontOrder, ours *Order) (Finding, OrderRepair, string) {
	ref := theirs.Ref
	if f, detail := CompareOrder(ref, theirs.Snapshot, ours); f == Missing {
		return Missing, OrderRepair{Snapshot: true, Paid: paidStates[theirs.PaymentStatus],
			Refunds: theirs.Refunded && (theirs.PaymentStatus == PayRefunded || theirs.PaymentStatus == PayPartiallyRefunded)}, detail
	}
	var rep OrderRepair
	var missed []string
	if ours.Version < theirs.Version {
		rep.Snapshot = true
		missed = append(missed, fmt.Sprintf("an update (storefront version %d, Tradewind %d)", theirs.Version, ours.Version))
	}
	if !beyondStorefront[ours.PaymentStatus] && theirs.PaymentStatus != ours.PaymentStatus {
		if paidStates[theirs.PaymentStatus] && !paidStates[ours.PaymentStatus] {
			rep.Paid = true
			missed = append(missed, fmt.Sprintf("the payment (storefront %s, Tradewind %s)", theirs.PaymentStatus, ours.PaymentStatus))
		}
		if theirs.Refunded && (theirs.PaymentStatus == PayRefunded || theirs.PaymentStatus == PayPartiallyRefunded) &&
			ours.PaymentStatus != PayRefunded {
			rep.Refunds = true
			missed = append(missed, fmt.Sprintf("refunds (storefront %s, Tradewind %s)", theirs.PaymentStatus, ours.PaymentStatus))
		}
	}
	if rep.Any() {
		return Missing, rep, fmt.Sprintf("order %s: Tradewind missed %s", ref, strings.Join(missed, " and "))
	}
	if f, detail := CompareOrder(ref, theirs.Snapshot, ours); f != Agree {
		return f, rep, detail
	}
	if theirs.PaymentStatus != "" && !beyondStorefront[ours.PaymentStatus] && theirs.PaymentStatus != ours.PaymentStatus {
		return Mismatch, rep, fmt.Sprintf("order %s: payment status differs: storefront %s, Tradewind %s", ref, theirs.PaymentStatus, ours.PaymentStatus)
	}
	return Agree, rep, ""
}

// RefOrder orders storefront order refs: shorter first, then by bytes, which
// is numeric order for the decimal ids Shopify, WooCommerce and BigCommerce
// give their orders.
func RefOrder(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
