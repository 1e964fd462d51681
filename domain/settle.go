package domain

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Oversell policies: what happens to an order that wants stock that is not there.
const (
	OversellBackorder = "backorder" // it waits for stock (the default)
	OversellCancel    = "cancel"    // Tradewind cancels it
)

// OrderState is everything the decisions about one order depend on, as storage
// loaded it (with the SKUs it touches locked).
type OrderState struct {
	Ref         string
	Status      OrderStatus // as the storefront last stated it; pending while known only from payments
	LocalStatus OrderStatus // Tradewind's own decision (cancelled by the oversell policy), or ""
	HasSnapshot bool        // a storefront snapshot was applied
	Currency    string
	Total       int64
	Lines       []Line

	Payments          PaymentTotals
	PaymentCurrencies []string // distinct currencies of its payments
	Failed            bool     // a payment of the order failed
	Restock           bool     // a refund asked for the whole order's goods back in stock (no lines named)
	// Restocked are the units per SKU that refunds returned to stock line by line,
	// summed over distinct refunds (a refund counts once, by its id).
	Restocked map[string]int64

	// Latest is the latest provider time of the events applied to the order. Stock
	// moves happen at it, not at the time of whichever event triggered them, so
	// absorption by absolute levels does not depend on arrival order.
	Latest time.Time

	Held      map[string]int64    // its active checkout reservations, per SKU
	Holdings  map[string]Holding  // what it holds of each SKU
	Stock     map[string]SKUStock // the counters of every SKU above
	Conflicts []StoredConflict    // its recorded conflicts
}

// Holding is what an order holds of one SKU.
type Holding struct {
	Quantity int64
	State    string // AllocReserved, AllocCommitted, AllocBackordered; AllocNone holds nothing
}

// SKUStock is a SKU's counters and the last absolute level applied to it.
type SKUStock struct {
	OnHand   int64
	Reserved int64
	Level    *LevelStamp // nil: no level was ever stated, Tradewind does not track the SKU yet
}

// LevelStamp says when the last absolute level of a SKU was stated, and by whom.
type LevelStamp struct {
	At time.Time
	// Own is true for Tradewind's own levels (PUT /api/v1/inventory/{sku}), stamped
	// at their arrival: every change applied after one arrived after it.
	Own bool
}

// Absorbed reports whether a change to on_hand that happened at `at` and is
// applied now, after level, is already contained in that level. A storefront's
// level states the stock as of its own time, so changes at or before it are in
// it; a level of Tradewind's own was stamped at its arrival, so anything applied
// after it arrived later and is never absorbed (ties within a provider's whole
// second are broken by arrival).
func Absorbed(at time.Time, level *LevelStamp) bool {
	if level == nil || level.Own {
		return false
	}
	return !at.After(level.At)
}

// StockMove is one change to a SKU's counters, with its cause.
type StockMove struct {
	SKU           string
	Cause         string
	DeltaOnHand   int64 // what it did to on_hand
	NominalOnHand int64 // what it would have done had no absolute level absorbed it
	DeltaReserved int64
}

// SettleOptions are the settings the decisions follow.
type SettleOptions struct {
	OversellPolicy string        // OversellBackorder (default) or OversellCancel
	Grace          time.Duration // how long an ordering artefact waits before it is shown
	EventID        string        // the event being applied, recorded on the conflicts it touches
}

// Decisions are everything settling an order decided, for storage to write.
type Decisions struct {
	// At is the time the stock moves happened (the order's latest fact, or now).
	At            time.Time
	PaymentStatus PaymentStatus
	Currency      string
	LocalStatus   OrderStatus // Tradewind's own status after settling
	// Convert are the SKUs whose active checkout reservations the order takes over.
	Convert []string
	// Moves are the stock moves, in the order they happened.
	Moves []StockMove
	// Holdings are what the order holds of each SKU it touched (State AllocNone:
	// nothing, the row goes).
	Holdings map[string]Holding
	// Stock are the counters of the SKUs it moved, after the moves.
	Stock     map[string]SKUStock
	Conflicts []ConflictChange
}

// EffectiveStatus is the order's status: Tradewind's own decision overrides the storefront's.
func (s OrderState) EffectiveStatus() OrderStatus {
	if s.LocalStatus != "" {
		return s.LocalStatus
	}
	return s.Status
}

// Settle decides an order's derived state from its loaded state alone: its payment
// status, what it holds of each SKU (and the stock moves that takes), and which
// conflicts open, stay, wait or clear. The same state gives the same decisions
// whatever order its events arrived in.
func Settle(st OrderState, now time.Time, opt SettleOptions) Decisions {
	d := Decisions{
		PaymentStatus: DerivePaymentStatus(st.Total, st.Payments),
		Currency:      st.Currency,
		LocalStatus:   st.LocalStatus,
	}
	currencies := slices.Clone(st.PaymentCurrencies)
	slices.Sort(currencies)
	currencies = slices.Compact(currencies)
	if d.Currency == "" && len(currencies) > 0 {
		d.Currency = currencies[0] // an order known only from its payments shows their currency
	}

	a := allocator{
		st: st, pay: d.PaymentStatus, at: st.Latest,
		held:     maps.Clone(st.Held),
		holdings: maps.Clone(st.Holdings),
		stock:    maps.Clone(st.Stock),
		touched:  map[string]bool{},
		moved:    map[string]bool{},
	}
	if a.at.IsZero() {
		a.at = now
	}
	if a.holdings == nil {
		a.holdings = map[string]Holding{}
	}
	oversold, short := a.allocate()
	if short && opt.OversellPolicy == OversellCancel && st.LocalStatus == "" {
		// Cancelled in Tradewind: everything it holds goes back.
		a.st.LocalStatus = StatusCancelled
		d.LocalStatus = StatusCancelled
		a.allocate()
		for i := range oversold {
			if oversold[i].Holds {
				oversold[i].Rule = "cancelled in Tradewind (oversell_policy cancel): cancel it in the storefront and refund the customer"
			}
		}
	}
	d.At, d.Convert, d.Moves = a.at, a.convert, a.moves
	d.Holdings = map[string]Holding{}
	for sku := range a.touched {
		d.Holdings[sku] = a.holdings[sku]
	}
	d.Stock = map[string]SKUStock{}
	for sku := range a.moved {
		d.Stock[sku] = a.stock[sku]
	}

	st.LocalStatus = d.LocalStatus
	conds := append(OrderConditions(st, d.Currency, currencies), oversold...)
	d.Conflicts = DecideConflicts(conds, st.Conflicts, now, opt.Grace, opt.EventID)
	return d
}

// OrderConditions evaluates the conflict conditions of an order's payments against
// the order (oversold is decided with its stock).
func OrderConditions(st OrderState, currency string, paymentCurrencies []string) []ConflictCondition {
	status := st.EffectiveStatus()
	p := st.Payments
	net := p.Captured - p.Refunded - p.ChargedBack
	return []ConflictCondition{
		{Kind: ConflictPaidAfterCancelled, Holds: status == StatusCancelled && net > 0,
			Detail: fmt.Sprintf("%d %s captured and not refunded on a cancelled order: refund it or reinstate the order", net, currency)},
		{Kind: ConflictAmountMismatch, Holds: st.HasSnapshot && status != StatusCancelled && st.Total > 0 && p.Captured > 0 && p.Captured != st.Total,
			Detail: fmt.Sprintf("captured %d but the order total is %d %s", p.Captured, st.Total, currency)},
		{Kind: ConflictRefundExceedsCapture, Holds: p.Refunded > p.Captured,
			Detail: fmt.Sprintf("refunded %d but captured only %d", p.Refunded, p.Captured),
			Rule:   "counted as refunded in full; check the gateway for the missing capture"},
		{Kind: ConflictCurrencyMismatch, Holds: st.HasSnapshot && currency != "" && mismatched(currency, paymentCurrencies),
			Detail: fmt.Sprintf("order in %s, payments in %v", currency, paymentCurrencies)},
		{Kind: ConflictDispute, Holds: p.Disputed,
			Detail: "a dispute is open on a payment of this order: answer it in the gateway's dashboard"},
	}
}

func mismatched(cur string, payments []string) bool {
	for _, c := range payments {
		if c != cur {
			return true
		}
	}
	return false
}

// allocator works out an order's holdings on a copy of the loaded state.
type allocator struct {
	st       OrderState
	pay      PaymentStatus
	at       time.Time
	held     map[string]int64
	holdings map[string]Holding
	stock    map[string]SKUStock
	touched  map[string]bool // SKUs whose holding was decided
	moved    map[string]bool // SKUs whose counters moved
	convert  []string
	moves    []StockMove
}

// allocate brings what the order holds of each SKU to what DesiredAllocation says,
// SKUs in sorted order. A SKU without the stock is backordered and reported as an
// oversold condition; short says whether any was.
func (a *allocator) allocate() (oversold []ConflictCondition, short bool) {
	st := a.st
	failedOnly := st.Failed && st.Payments.Captured == 0
	restocked := st.Restock && st.Payments.Captured > 0 && st.Payments.Refunded >= st.Payments.Captured
	facts := OrderFacts{Status: st.EffectiveStatus(), PaymentStatus: a.pay, FailedOnly: failedOnly, Restocked: restocked}
	want := DesiredAllocation(facts)
	wantQty := map[string]int64{}
	for _, ln := range st.Lines {
		if ln.SKU != "" && ln.Quantity > 0 {
			wantQty[ln.SKU] += ln.Quantity
		}
	}
	if len(st.Lines) == 0 && facts.Status == StatusPending {
		// Known only from a payment: what its checkout reserved is what it bought.
		for sku, q := range a.held {
			wantQty[sku] = q
		}
		if len(wantQty) > 0 {
			facts.Status = StatusPlaced
			want = DesiredAllocation(facts)
		}
	}
	// Units refunds put back line by line leave what a committed order holds: the
	// order keeps the rest. (A cancelled or fully restocked order holds nothing anyway.)
	returned := map[string]bool{}
	if want == AllocCommitted {
		for sku, q := range st.Restocked {
			if q > 0 && wantQty[sku] > 0 {
				wantQty[sku] = max(wantQty[sku]-q, 0)
				returned[sku] = true
			}
		}
	}
	skus := slices.Sorted(maps.Keys(wantQty))
	for sku := range a.holdings {
		skus = append(skus, sku)
	}
	for sku := range a.held {
		skus = append(skus, sku)
	}
	slices.Sort(skus)
	skus = slices.Compact(skus)

	for _, sku := range skus {
		cur := a.holdings[sku]
		if q := a.held[sku]; q > 0 {
			// Its checkout reservations are taken over by the allocation: the units are
			// counted in reserved already, so the counters do not move.
			a.convert = append(a.convert, sku)
			delete(a.held, sku)
			switch cur.State {
			case AllocReserved:
				cur.Quantity += q
			case AllocCommitted:
				// Already committed: the reservation's units go back through a release.
				a.apply(sku, StockMove{SKU: sku, Cause: StockRelease, DeltaReserved: -q})
			default:
				cur = Holding{Quantity: q, State: AllocReserved}
			}
			a.set(sku, cur)
		}
		target := Holding{Quantity: wantQty[sku], State: want}
		if target.Quantity == 0 || target.State == AllocNone {
			target = Holding{}
		}
		if a.stock[sku].Level == nil && cur.State != AllocReserved && cur.State != AllocCommitted {
			// No level was ever stated for this SKU: Tradewind does not track its stock
			// yet. The order waits on it, without a conflict, until a level arrives.
			if target.State != AllocNone {
				target.State = AllocBackordered
			}
			a.set(sku, target)
			continue
		}
		c := cause(target.State, restocked, failedOnly)
		if returned[sku] && cur.State == AllocCommitted && target.Quantity < cur.Quantity {
			c = StockRefund
		}
		ok := a.move(sku, cur, target, c)
		oversold = append(oversold, ConflictCondition{Kind: ConflictOversold, SKU: sku, Holds: !ok,
			Detail: fmt.Sprintf("order wants %d of %s and there is not enough available; it is backordered: restock or cancel it", target.Quantity, sku)})
		short = short || !ok
	}
	return oversold, short
}

func (a *allocator) set(sku string, h Holding) {
	if h.State == AllocNone {
		h = Holding{}
	}
	a.holdings[sku] = h
	a.touched[sku] = true
}

// move changes what the order holds of one SKU from cur to target. It reports
// false, holding nothing and marking the SKU backordered, when the stock is not there.
func (a *allocator) move(sku string, cur, target Holding, cause string) bool {
	if cur == target {
		return true
	}
	curRes, curCom := holds(cur)
	wantRes, wantCom := holds(target)
	if a.try(sku, StockMove{SKU: sku, Cause: cause, DeltaReserved: wantRes - curRes, NominalOnHand: curCom - wantCom}) {
		a.set(sku, target)
		return true
	}
	// Give back whatever the order held of this SKU and wait for stock.
	if curRes != 0 || curCom != 0 {
		a.apply(sku, StockMove{SKU: sku, Cause: StockCancel, DeltaReserved: -curRes, NominalOnHand: curCom})
	}
	a.set(sku, Holding{Quantity: target.Quantity, State: AllocBackordered})
	return false
}

func holds(h Holding) (reserved, committed int64) {
	switch h.State {
	case AllocReserved:
		return h.Quantity, 0
	case AllocCommitted:
		return 0, h.Quantity
	}
	return 0, 0
}

// try applies m unless it would take available below zero.
func (a *allocator) try(sku string, m StockMove) bool {
	s := a.stock[sku]
	m.DeltaOnHand = m.NominalOnHand
	if Absorbed(a.at, s.Level) {
		m.DeltaOnHand = 0
	}
	onHand, reserved := s.OnHand+m.DeltaOnHand, s.Reserved+m.DeltaReserved
	if reserved < 0 || reserved > onHand {
		return false
	}
	a.commit(sku, m)
	return true
}

// apply applies a move that gives stock back (it cannot take available below zero).
func (a *allocator) apply(sku string, m StockMove) {
	m.DeltaOnHand = m.NominalOnHand
	if Absorbed(a.at, a.stock[sku].Level) {
		m.DeltaOnHand = 0
	}
	a.commit(sku, m)
}

func (a *allocator) commit(sku string, m StockMove) {
	if m.DeltaOnHand == 0 && m.NominalOnHand == 0 && m.DeltaReserved == 0 {
		return // nothing held, nothing to give back
	}
	s := a.stock[sku]
	s.OnHand += m.DeltaOnHand
	s.Reserved += m.DeltaReserved
	a.stock[sku] = s
	a.moved[sku] = true
	a.moves = append(a.moves, m)
}

func cause(target string, restocked, failedOnly bool) string {
	switch {
	case target == AllocReserved:
		return StockOrder
	case target == AllocCommitted:
		return StockPayment
	case restocked:
		return StockRefund
	case failedOnly:
		return StockPaymentFailed
	}
	return StockCancel
}
