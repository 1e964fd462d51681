package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// orderState is an order with everything its payments say, and what settle needs
// besides, as one read.
type orderState struct {
	order      orderRow
	totals     domain.PaymentTotals
	currencies []string // distinct currencies of its payments
	failedOnly bool
	restocked  bool
	latest     sql.NullTime       // the latest provider time of the events applied to it
	held       []heldQuantity     // its active checkout reservations, per SKU
	current    []allocationRow    // what it holds of each SKU
	standing   []standingConflict // its conflicts no person has touched and whose condition has not cleared
}

type heldQuantity struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

type standingConflict struct {
	Kind string `json:"kind"`
	SKU  string `json:"sku"`
}

// loadOrderState reads an order and everything settle derives from: its row, the
// totals of its payments, the latest time of its events, its checkout
// reservations, its allocations and its standing conflicts, in one statement (one
// round trip instead of six). The small lists come back as JSON arrays.
func loadOrderState(ctx context.Context, tx *ltx, ref string) (orderState, error) {
	var st orderState
	var r struct {
		orderRow
		Authorized int64          `db:"authorized"`
		Captured   int64          `db:"captured"`
		Refunded   int64          `db:"refunded"`
		Failed     bool           `db:"failed"`
		Restock    bool           `db:"restock"`
		Disputed   bool           `db:"disputed"`
		Currencies pq.StringArray `db:"currencies"`
		Latest     sql.NullTime   `db:"latest"`
		Held       []byte         `db:"held"`
		Current    []byte         `db:"current"`
		Standing   []byte         `db:"standing"`
	}
	err := tx.GetContext(ctx, &r, `
		SELECT o.ref, o.status, o.payment_status, o.currency, o.total, o.lines, o.version, o.snapshot_at,
			o.snapshot_event, o.local_status, o.created_at, o.updated_at,
			agg.authorized, agg.captured, agg.refunded, agg.failed, agg.restock, agg.disputed, agg.currencies,
			(SELECT MAX(occurred_at) FROM applied_events WHERE order_ref = $1) AS latest,
			`+holdingsColumns+`,
			(SELECT COALESCE(json_agg(c), '[]') FROM (
				SELECT kind, sku FROM conflicts
				WHERE order_ref = $1 AND note = '' AND rule NOT LIKE 'condition cleared%') c) AS standing
		FROM orders o, LATERAL (
			SELECT
				COALESCE(SUM(p.authorized), 0) AS authorized,
				COALESCE(SUM(p.captured), 0)   AS captured,
				COALESCE(SUM(GREATEST(p.refunded_total,
					(SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.provider = p.provider AND r.payment_ref = p.ref))), 0) AS refunded,
				COALESCE(BOOL_OR(p.failed), false) AS failed,
				EXISTS (SELECT 1 FROM refunds r JOIN payments rp ON rp.provider = r.provider AND rp.ref = r.payment_ref
					WHERE rp.order_ref = $1 AND r.restock) AS restock,
				EXISTS (SELECT 1 FROM disputes d JOIN payments dp ON dp.provider = d.provider AND dp.ref = d.payment_ref
					WHERE dp.order_ref = $1 AND NOT d.closed) AS disputed,
				COALESCE(ARRAY_AGG(DISTINCT p.currency) FILTER (WHERE p.currency <> ''), '{}') AS currencies
			FROM payments p WHERE p.order_ref = $1) agg
		WHERE o.ref = $1`, ref)
	if err != nil {
		return st, err
	}
	st.order = r.orderRow
	st.totals = domain.PaymentTotals{Authorized: r.Authorized, Captured: r.Captured, Refunded: r.Refunded, Disputed: r.Disputed}
	st.currencies = r.Currencies
	st.failedOnly = r.Failed && r.Captured == 0
	st.restocked = r.Restock && r.Captured > 0 && r.Refunded >= r.Captured
	st.latest = r.Latest
	for _, l := range []struct {
		raw  []byte
		into any
	}{{r.Held, &st.held}, {r.Current, &st.current}, {r.Standing, &st.standing}} {
		if err := json.Unmarshal(l.raw, l.into); err != nil {
			return st, fmt.Errorf("order %q state: %w", ref, err)
		}
	}
	return st, nil
}

// loadHoldings reads again what loadOrderState read of an order's checkout
// reservations and allocations.
func loadHoldings(ctx context.Context, tx *ltx, st *orderState) error {
	var r struct {
		Held    []byte `db:"held"`
		Current []byte `db:"current"`
	}
	if err := tx.GetContext(ctx, &r, `SELECT `+holdingsColumns, st.order.Ref); err != nil {
		return err
	}
	st.held, st.current = nil, nil
	if err := json.Unmarshal(r.Held, &st.held); err != nil {
		return fmt.Errorf("order %q reservations: %w", st.order.Ref, err)
	}
	if err := json.Unmarshal(r.Current, &st.current); err != nil {
		return fmt.Errorf("order %q allocations: %w", st.order.Ref, err)
	}
	return nil
}

// holdingsColumns are an order's active checkout reservations per SKU and its
// allocations, as JSON arrays, for the order $1.
const holdingsColumns = `
	(SELECT COALESCE(json_agg(h), '[]') FROM (
		SELECT sku, SUM(quantity) AS quantity FROM reservations
		WHERE order_ref = $1 AND state = 'active' AND expires_at > now() GROUP BY sku) h) AS held,
	(SELECT COALESCE(json_agg(a), '[]') FROM (
		SELECT sku, quantity, state FROM allocations WHERE order_ref = $1) a) AS current`

// settle brings an order's derived state in line with everything applied to it:
// its payment status, the stock it holds, and its conflicts. Everything here is a
// function of the order's current state, which is why arrival order does not matter.
func (l *Ledger) settle(ctx context.Context, tx *ltx, ref string, ev domain.Event) error {
	st, err := loadOrderState(ctx, tx, ref)
	if err != nil {
		return err
	}
	o := &st.order
	payStatus := domain.DerivePaymentStatus(o.Total, st.totals)
	if o.Currency == "" && len(st.currencies) > 0 {
		o.Currency = st.currencies[0] // an order known only from its payments shows their currency
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET payment_status = $2, currency = $3, updated_at = now() WHERE ref = $1`,
		ref, payStatus, o.Currency); err != nil {
		return err
	}
	// Stock moves happen at the order's latest fact time, not at the time of whichever
	// event happened to trigger them, so absorption by absolute stock levels does not
	// depend on arrival order.
	if st.latest.Valid {
		ev.OccurredAt = st.latest.Time
	}
	oversold, err := l.allocate(ctx, tx, st, payStatus, ev)
	if err != nil {
		return err
	}

	status := o.status()
	hasSnapshot := o.SnapshotEvent != ""
	net := st.totals.Captured - st.totals.Refunded
	checks := []conflictCheck{
		{kind: domain.ConflictPaidAfterCancelled, active: status == domain.StatusCancelled && net > 0,
			detail: fmt.Sprintf("%d %s captured and not refunded on a cancelled order: refund it or reinstate the order", net, o.Currency)},
		{kind: domain.ConflictAmountMismatch, active: hasSnapshot && status != domain.StatusCancelled && o.Total > 0 && st.totals.Captured > 0 && st.totals.Captured != o.Total,
			detail: fmt.Sprintf("captured %d but the order total is %d %s", st.totals.Captured, o.Total, o.Currency)},
		{kind: domain.ConflictRefundExceedsCapture, active: st.totals.Refunded > st.totals.Captured,
			detail: fmt.Sprintf("refunded %d but captured only %d", st.totals.Refunded, st.totals.Captured),
			rule:   "counted as refunded in full; check the gateway for the missing capture"},
		{kind: domain.ConflictCurrencyMismatch, active: hasSnapshot && o.Currency != "" && mismatched(o.Currency, st.currencies),
			detail: fmt.Sprintf("order in %s, payments in %v", o.Currency, []string(st.currencies))},
		{kind: domain.ConflictDispute, active: st.totals.Disputed,
			detail: "a dispute is open on a payment of this order: answer it in the gateway's dashboard"},
	}
	checks = append(checks, oversold...)
	return recordConflicts(ctx, tx, ref, ev.EventID, checks, st.standing)
}

func mismatched(cur string, payments []string) bool {
	for _, c := range payments {
		if c != cur {
			return true
		}
	}
	return false
}

type allocationRow struct {
	SKU      string `db:"sku" json:"sku"`
	Quantity int64  `db:"quantity" json:"quantity"`
	State    string `db:"state" json:"state"`
}

// allocate moves stock so that the order holds what domain.DesiredAllocation says
// of each line's SKU, SKUs in sorted order so concurrent orders cannot deadlock. A
// SKU without the stock is backordered (or, under the cancel policy, the whole order
// is cancelled in Tradewind) and reported as an oversold conflict.
func (l *Ledger) allocate(ctx context.Context, tx *ltx, st orderState, payStatus domain.PaymentStatus, ev domain.Event) ([]conflictCheck, error) {
	o := st.order
	want := domain.DesiredAllocation(domain.OrderFacts{
		Status: o.status(), PaymentStatus: payStatus, FailedOnly: st.failedOnly, Restocked: st.restocked,
	})
	var lines []domain.Line
	if err := json.Unmarshal(o.Lines, &lines); err != nil {
		return nil, fmt.Errorf("order %q lines: %w", o.Ref, err)
	}
	// Checkout reservations made for this order are taken over by its allocation.
	held := st.held
	reservedFor := map[string]int64{}
	for _, h := range held {
		reservedFor[h.SKU] = h.Quantity
	}
	wantQty := map[string]int64{}
	for _, ln := range lines {
		if ln.SKU != "" && ln.Quantity > 0 {
			wantQty[ln.SKU] += ln.Quantity
		}
	}
	if len(lines) == 0 && o.status() == domain.StatusPending {
		// Known only from a payment: what its checkout reserved is what it bought.
		for sku, q := range reservedFor {
			wantQty[sku] = q
		}
		if len(wantQty) > 0 {
			want = domain.DesiredAllocation(domain.OrderFacts{Status: domain.StatusPlaced, PaymentStatus: payStatus, FailedOnly: st.failedOnly, Restocked: st.restocked})
		}
	}
	current := st.current
	have := map[string]allocationRow{}
	skus := make([]string, 0, len(wantQty)+len(current))
	for sku := range wantQty {
		skus = append(skus, sku)
	}
	for _, a := range current {
		have[a.SKU] = a
		if _, ok := wantQty[a.SKU]; !ok {
			skus = append(skus, a.SKU)
		}
	}
	for sku := range reservedFor {
		if _, ok := wantQty[sku]; !ok {
			if _, ok := have[sku]; !ok {
				skus = append(skus, sku)
			}
		}
	}
	sort.Strings(skus)

	var checks []conflictCheck
	short := false
	for _, sku := range skus {
		cur, target := have[sku], allocationRow{SKU: sku, Quantity: wantQty[sku], State: want}
		cur.SKU = sku
		if q := reservedFor[sku]; q > 0 {
			var err error
			if cur, err = convertReservations(ctx, tx, o.Ref, cur, q); err != nil {
				return nil, err
			}
		}
		if target.Quantity == 0 {
			target.State = domain.AllocNone
		}
		if target.State == domain.AllocNone {
			target.Quantity = 0
		}
		tracked, err := skuTracked(ctx, tx, sku)
		if err != nil {
			return nil, err
		}
		if !tracked && cur.State != domain.AllocReserved && cur.State != domain.AllocCommitted {
			// No level was ever stated for this SKU: Tradewind does not track its stock
			// yet. The order waits on it, without a conflict, until a level arrives.
			if target.State != domain.AllocNone {
				target.State = domain.AllocBackordered
			}
			if err := saveAllocation(ctx, tx, o.Ref, target); err != nil {
				return nil, err
			}
			continue
		}
		ok, err := l.moveAllocation(ctx, tx, o.Ref, cur, target, st, ev)
		if err != nil {
			return nil, err
		}
		checks = append(checks, conflictCheck{kind: domain.ConflictOversold, sku: sku, active: !ok,
			detail: fmt.Sprintf("order wants %d of %s and there is not enough available; it is backordered: restock or cancel it", target.Quantity, sku)})
		short = short || !ok
	}
	if short && l.OversellPolicy == OversellCancel && o.LocalStatus == "" {
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET local_status = 'cancelled', updated_at = now() WHERE ref = $1`, o.Ref); err != nil {
			return nil, err
		}
		st.order.LocalStatus = string(domain.StatusCancelled)
		// The pass above converted reservations and saved allocations: read them again.
		if err := loadHoldings(ctx, tx, &st); err != nil {
			return nil, err
		}
		if _, err := l.allocate(ctx, tx, st, payStatus, ev); err != nil {
			return nil, err
		}
		for i := range checks {
			if checks[i].active {
				checks[i].rule = "cancelled in Tradewind (oversell_policy cancel): cancel it in the storefront and refund the customer"
			}
		}
	}
	return checks, nil
}

// moveAllocation changes what an order holds of one SKU from cur to target. It
// reports false, holding nothing and marking the SKU backordered, when the stock is
// not there.
func (l *Ledger) moveAllocation(ctx context.Context, tx *ltx, ref string, cur, target allocationRow, st orderState, ev domain.Event) (bool, error) {
	if cur.State == target.State && cur.Quantity == target.Quantity {
		return true, nil
	}
	held := func(a allocationRow) (reserved, committed int64) {
		switch a.State {
		case domain.AllocReserved:
			return a.Quantity, 0
		case domain.AllocCommitted:
			return 0, a.Quantity
		}
		return 0, 0
	}
	curRes, curCom := held(cur)
	wantRes, wantCom := held(target)
	m := stockMove{SKU: target.SKU, DeltaReserved: wantRes - curRes, DeltaOnHand: curCom - wantCom,
		Cause: allocationCause(target.State, st), OrderRef: ref, Source: ev.Source, EventID: ev.EventID, OccurredAt: ev.OccurredAt}
	err := moveStock(ctx, tx, m)
	if err == errInsufficient {
		// Give back whatever the order held of this SKU and wait for stock.
		if curRes != 0 || curCom != 0 {
			release := stockMove{SKU: target.SKU, DeltaReserved: -curRes, DeltaOnHand: curCom, Cause: domain.StockCancel,
				OrderRef: ref, Source: ev.Source, EventID: ev.EventID, OccurredAt: ev.OccurredAt}
			if err := moveStock(ctx, tx, release); err != nil {
				return false, err
			}
		}
		target.State = domain.AllocBackordered
		return false, saveAllocation(ctx, tx, ref, target)
	}
	if err != nil {
		return false, err
	}
	return true, saveAllocation(ctx, tx, ref, target)
}

func allocationCause(target string, st orderState) string {
	switch {
	case target == domain.AllocReserved:
		return domain.StockOrder
	case target == domain.AllocCommitted:
		return domain.StockPayment
	case st.restocked:
		return domain.StockRefund
	case st.failedOnly:
		return domain.StockPaymentFailed
	}
	return domain.StockCancel
}

func saveAllocation(ctx context.Context, tx *ltx, ref string, a allocationRow) error {
	if a.State == domain.AllocNone {
		_, err := tx.ExecContext(ctx, `DELETE FROM allocations WHERE order_ref = $1 AND sku = $2`, ref, a.SKU)
		return err
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO allocations (order_ref, sku, quantity, state) VALUES ($1, $2, $3, $4)
		ON CONFLICT (order_ref, sku) DO UPDATE SET quantity = EXCLUDED.quantity, state = EXCLUDED.state, updated_at = now()`,
		ref, a.SKU, a.Quantity, a.State)
	return err
}

// convertReservations hands an order's active checkout reservations of one SKU
// over to its allocation: the units are already counted in reserved, so the
// allocation now holds them as reserved and the counters do not move.
func convertReservations(ctx context.Context, tx *ltx, ref string, cur allocationRow, qty int64) (allocationRow, error) {
	if _, err := lockSKU(ctx, tx, cur.SKU); err != nil {
		return cur, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET state = 'converted', updated_at = now()
		WHERE order_ref = $1 AND sku = $2 AND state = 'active' AND expires_at > now()`, ref, cur.SKU); err != nil {
		return cur, err
	}
	switch cur.State {
	case domain.AllocReserved:
		cur.Quantity += qty
	case domain.AllocCommitted:
		// Already committed: the reservation's units go back through a release.
		if err := moveStock(ctx, tx, stockMove{SKU: cur.SKU, DeltaReserved: -qty, Cause: domain.StockRelease, OrderRef: ref, OccurredAt: time.Now()}); err != nil {
			return cur, err
		}
	default:
		cur = allocationRow{SKU: cur.SKU, Quantity: qty, State: domain.AllocReserved}
	}
	return cur, saveAllocation(ctx, tx, ref, cur)
}

// skuTracked reports whether a stock level was ever stated for sku. It locks the
// SKU's row, so a level being set concurrently is either seen here or sees this
// order waiting on it.
func skuTracked(ctx context.Context, tx *ltx, sku string) (bool, error) {
	inv, err := lockSKU(ctx, tx, sku)
	return inv.SetAt.Valid, err
}
