package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// loadOrderStates reads orders and everything their decisions depend on: each
// one's row, the totals of its payments, the latest time of its events, its
// checkout reservations, its allocations and its conflicts, in one statement
// for all of them (the small lists come back as JSON arrays). It returns the
// states of the orders that exist, in refs' order, without their SKUs' counters,
// and with each the SKUs it touches, sorted: the caller locks those.
func loadOrderStates(ctx context.Context, tx *ltx, refs []string, now time.Time) ([]loadedOrder, error) {
	var rows []orderStateRow
	err := tx.SelectContext(ctx, &rows, `
		SELECT o.ref, o.status, o.payment_status, o.currency, o.total, o.lines, o.version, o.snapshot_at,
			o.snapshot_event, o.local_status, o.created_at, o.updated_at,
			agg.authorized, agg.captured, agg.refunded, agg.failed, agg.restock, agg.disputed, agg.charged_back, agg.restocked, agg.currencies,
			(SELECT MAX(occurred_at) FROM applied_events WHERE order_ref = o.ref) AS latest,
			(SELECT COALESCE(json_agg(h), '[]') FROM (
				SELECT sku, SUM(quantity) AS quantity FROM reservations
				WHERE order_ref = o.ref AND state = 'active' AND expires_at > $2 GROUP BY sku) h) AS held,
			(SELECT COALESCE(json_agg(a), '[]') FROM (
				SELECT sku, quantity, state FROM allocations WHERE order_ref = o.ref) a) AS current,
			(SELECT COALESCE(json_agg(c), '[]') FROM (
				SELECT kind, sku, state, rule, resolved_by, held_since FROM conflicts WHERE order_ref = o.ref) c) AS conflicts,
			dn.facts AS told_facts, dn.seq AS told_seq
		FROM unnest($1::text[]) WITH ORDINALITY AS q(ref, i) JOIN orders o ON o.ref = q.ref
			LEFT JOIN downstream_orders dn ON dn.order_ref = o.ref, LATERAL (
			SELECT
				COALESCE(SUM(p.authorized), 0) AS authorized,
				COALESCE(SUM(p.captured), 0)   AS captured,
				-- domain.RefundedOf(refunded_total, refunds that did not fail, refunds that failed), per payment
				COALESCE(SUM((SELECT GREATEST(p.refunded_total - COALESCE(SUM(r.amount) FILTER (WHERE r.failed), 0),
					COALESCE(SUM(r.amount) FILTER (WHERE NOT r.failed), 0), 0)
					FROM refunds r WHERE r.provider = p.provider AND r.payment_ref = p.ref)), 0) AS refunded,
				COALESCE(BOOL_OR(p.failed), false) AS failed,
				EXISTS (SELECT 1 FROM refunds r JOIN payments rp ON rp.provider = r.provider AND rp.ref = r.payment_ref
					WHERE rp.order_ref = o.ref AND r.restock) AS restock,
				EXISTS (SELECT 1 FROM disputes d JOIN payments dp ON dp.provider = d.provider AND dp.ref = d.payment_ref
					WHERE dp.order_ref = o.ref AND NOT d.closed) AS disputed,
				(SELECT COALESCE(SUM(d.amount), 0) FROM disputes d JOIN payments dp ON dp.provider = d.provider AND dp.ref = d.payment_ref
					WHERE dp.order_ref = o.ref AND d.outcome = 'lost') AS charged_back,
				(SELECT COALESCE(json_object_agg(x.sku, x.quantity), '{}') FROM (
					SELECT l->>'sku' AS sku, SUM((l->>'quantity')::bigint) AS quantity
					FROM refunds r JOIN payments rp ON rp.provider = r.provider AND rp.ref = r.payment_ref,
						jsonb_array_elements(r.restock_lines) l
					WHERE rp.order_ref = o.ref GROUP BY 1) x) AS restocked,
				COALESCE(ARRAY_AGG(DISTINCT p.currency) FILTER (WHERE p.currency <> ''), '{}') AS currencies
			FROM payments p WHERE p.order_ref = o.ref) agg
		ORDER BY q.i`, pq.StringArray(refs), now)
	if err != nil {
		return nil, err
	}
	out := make([]loadedOrder, len(rows))
	for i, r := range rows {
		st, skus, err := r.state()
		if err != nil {
			return nil, err
		}
		out[i] = loadedOrder{state: st, skus: skus}
		if r.ToldSeq.Valid {
			out[i].told = &toldFacts{seq: r.ToldSeq.Int64}
			if err := json.Unmarshal(r.ToldFacts, &out[i].told.facts); err != nil {
				return nil, fmt.Errorf("downstream facts of order %q: %w", r.Ref, err)
			}
		}
	}
	return out, nil
}

// loadedOrder is an order as loadOrderStates reads it.
type loadedOrder struct {
	state domain.OrderState
	skus  []string   // the SKUs it touches, sorted: the caller locks them
	told  *toldFacts // what downstream was last told of it; nil: nothing yet
}

// toldFacts is what downstream was last told of an order (downstream_orders).
type toldFacts struct {
	facts domain.DownstreamFacts
	seq   int64
}

// orderStateRow is a row of loadOrderStates' query.
type orderStateRow struct {
	orderRow
	Authorized  int64          `db:"authorized"`
	Captured    int64          `db:"captured"`
	Refunded    int64          `db:"refunded"`
	Failed      bool           `db:"failed"`
	Restock     bool           `db:"restock"`
	Disputed    bool           `db:"disputed"`
	ChargedBack int64          `db:"charged_back"`
	Restocked   []byte         `db:"restocked"`
	Currencies  pq.StringArray `db:"currencies"`
	Latest      sql.NullTime   `db:"latest"`
	Held        []byte         `db:"held"`
	Current     []byte         `db:"current"`
	Conflicts   []byte         `db:"conflicts"`
	ToldFacts   []byte         `db:"told_facts"`
	ToldSeq     sql.NullInt64  `db:"told_seq"`
}

// state builds the order's state from the row, with the SKUs it touches, sorted.
func (r orderStateRow) state() (domain.OrderState, []string, error) {
	st := domain.OrderState{
		Ref: r.Ref, Status: domain.OrderStatus(r.Status), LocalStatus: domain.OrderStatus(r.LocalStatus),
		HasSnapshot: r.SnapshotEvent != "", Currency: r.Currency, Total: r.Total,
		Payments:          domain.PaymentTotals{Authorized: r.Authorized, Captured: r.Captured, Refunded: r.Refunded, Disputed: r.Disputed, ChargedBack: r.ChargedBack},
		PaymentCurrencies: r.Currencies, Failed: r.Failed, Restock: r.Restock,
		Held: map[string]int64{}, Holdings: map[string]domain.Holding{},
	}
	if r.Latest.Valid {
		st.Latest = r.Latest.Time
	}
	var (
		held      []heldQuantity
		current   []allocationRow
		conflicts []storedConflict
	)
	for _, l := range []struct {
		raw  []byte
		into any
	}{{r.Lines, &st.Lines}, {r.Restocked, &st.Restocked}, {r.Held, &held}, {r.Current, &current}, {r.Conflicts, &conflicts}} {
		if err := json.Unmarshal(l.raw, l.into); err != nil {
			return st, nil, fmt.Errorf("order %q state: %w", r.Ref, err)
		}
	}
	skus := map[string]bool{}
	for _, h := range held {
		st.Held[h.SKU] = h.Quantity
		skus[h.SKU] = true
	}
	for _, a := range current {
		st.Holdings[a.SKU] = domain.Holding{Quantity: a.Quantity, State: a.State}
		skus[a.SKU] = true
	}
	for _, ln := range st.Lines {
		if ln.SKU != "" && ln.Quantity > 0 {
			skus[ln.SKU] = true
		}
	}
	for _, c := range conflicts {
		st.Conflicts = append(st.Conflicts, domain.StoredConflict{Kind: c.Kind, SKU: c.SKU, State: c.State, Rule: c.Rule,
			ResolvedBy: c.ResolvedBy, HeldSince: c.HeldSince.Time})
	}
	return st, slices.Sorted(maps.Keys(skus)), nil
}

type heldQuantity struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

type allocationRow struct {
	SKU      string `db:"sku" json:"sku"`
	Quantity int64  `db:"quantity" json:"quantity"`
	State    string `db:"state" json:"state"`
}

type storedConflict struct {
	Kind       string   `json:"kind"`
	SKU        string   `json:"sku"`
	State      string   `json:"state"`
	Rule       string   `json:"rule"`
	ResolvedBy string   `json:"resolved_by"`
	HeldSince  jsonTime `json:"held_since"`
}

// jsonTime reads a timestamptz as json_agg writes it.
type jsonTime struct{ time.Time }

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s == "" {
		return err
	}
	v, err := time.Parse("2006-01-02T15:04:05.999999Z07:00", s)
	if err != nil {
		v, err = time.Parse(time.RFC3339Nano, s)
	}
	t.Time = v
	return err
}

// lockSKUs returns the counters of skus (in the order given), creating missing
// rows at zero and locking every row, in one statement.
func lockSKUs(ctx context.Context, tx *ltx, skus []string) (map[string]domain.SKUStock, error) {
	out := make(map[string]domain.SKUStock, len(skus))
	if len(skus) == 0 {
		return out, nil
	}
	var rows []inventoryRow
	if err := tx.SelectContext(ctx, &rows, `
		INSERT INTO inventory (sku) SELECT s FROM unnest($1::text[]) WITH ORDINALITY AS u(s, i) ORDER BY i
		ON CONFLICT (sku) DO UPDATE SET sku = EXCLUDED.sku RETURNING `+inventoryColumns, pq.StringArray(skus)); err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.SKU] = r.skuStock()
	}
	return out, nil
}

// settle brings an order's derived state in line with everything applied to it
// (settleMany for one order).
func (l *Ledger) settle(ctx context.Context, tx *ltx, ref string, ev domain.Event) error {
	return l.settleMany(ctx, tx, map[string]domain.Event{ref: ev})
}

// settleMany settles each order of last (order → its last event): it loads the
// orders' states, lets domain.Settle decide, and writes the decisions — in ref
// order, loading all the states in one statement and locking the union of their
// SKUs once, sorted. The SKUs' counters are carried from one order's
// decisions to the next, as if each order were loaded after the one before
// wrote.
func (l *Ledger) settleMany(ctx context.Context, tx *ltx, last map[string]domain.Event) error {
	refs := slices.Sorted(maps.Keys(last))
	orders, err := loadOrderStates(ctx, tx, refs, tx.now)
	if err != nil {
		return err
	}
	if len(orders) != len(refs) {
		return fmt.Errorf("settle %d orders: %d found", len(refs), len(orders))
	}
	all := map[string]bool{}
	for _, o := range orders {
		for _, sku := range o.skus {
			all[sku] = true
		}
	}
	stock, err := lockSKUs(ctx, tx, slices.Sorted(maps.Keys(all)))
	if err != nil {
		return err
	}
	ds := make([]domain.Decisions, 0, len(orders))
	settled := make([]settledOrder, 0, len(orders))
	for _, o := range orders {
		st, ev := o.state, last[o.state.Ref]
		st.Stock = make(map[string]domain.SKUStock, len(o.skus))
		for _, sku := range o.skus {
			st.Stock[sku] = stock[sku]
		}
		if st.Latest.IsZero() {
			st.Latest = ev.OccurredAt
		}
		d := domain.Settle(st, tx.now, domain.SettleOptions{OversellPolicy: l.OversellPolicy, Grace: l.Grace, EventID: ev.EventID})
		for sku, c := range d.Stock {
			stock[sku] = c
		}
		ds = append(ds, d)
		if err := saveLineDecisions(ctx, tx, st, d, ev); err != nil {
			return fmt.Errorf("settle order %q: %w", st.Ref, err)
		}
		settled = append(settled, settledOrder{st: st, d: d, ev: ev, told: o.told})
	}
	if err := l.writeDeliveries(ctx, tx, settled...); err != nil {
		return err
	}
	return saveOrderDecisions(ctx, tx, refs, ds)
}

// saveOrderDecisions writes what domain.Settle decided of each order's own row
// (payment status, currency, local status), one statement for all of them.
func saveOrderDecisions(ctx context.Context, tx *ltx, refs []string, ds []domain.Decisions) error {
	payment, currency, local := make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		payment[i], currency[i], local[i] = string(d.PaymentStatus), d.Currency, string(d.LocalStatus)
	}
	_, err := tx.ExecContext(ctx, `
		UPDATE orders o SET payment_status = u.payment_status, currency = u.currency, local_status = u.local_status, updated_at = $5
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(ref, payment_status, currency, local_status)
		WHERE o.ref = u.ref`,
		pq.StringArray(refs), pq.StringArray(payment), pq.StringArray(currency), pq.StringArray(local), tx.now)
	return err
}

// saveLineDecisions writes the rest of an order's decisions: reservations
// converted, stock counters and their ledger, allocations and conflicts.
func saveLineDecisions(ctx context.Context, tx *ltx, st domain.OrderState, d domain.Decisions, ev domain.Event) error {
	now := tx.now
	if len(d.Convert) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET state = 'converted', updated_at = $3
			WHERE order_ref = $1 AND sku = ANY($2) AND state = 'active' AND expires_at > $3`, st.Ref, pq.StringArray(d.Convert), now); err != nil {
			return err
		}
	}
	if err := saveStock(ctx, tx, d.Stock, d.Moves, stockMove{OrderRef: st.Ref, Source: ev.Source, EventID: ev.EventID, OccurredAt: d.At}); err != nil {
		return err
	}
	var upSKU, upState, delSKU []string
	var upQty []int64
	for _, sku := range slices.Sorted(maps.Keys(d.Holdings)) {
		h := d.Holdings[sku]
		if h == st.Holdings[sku] {
			continue
		}
		if h.State == domain.AllocNone {
			delSKU = append(delSKU, sku)
			continue
		}
		upSKU, upQty, upState = append(upSKU, sku), append(upQty, h.Quantity), append(upState, h.State)
	}
	if len(upSKU) > 0 {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO allocations (order_ref, sku, quantity, state, updated_at)
			SELECT $1, u.sku, u.quantity, u.state, $5 FROM unnest($2::text[], $3::bigint[], $4::text[]) AS u(sku, quantity, state)
			ON CONFLICT (order_ref, sku) DO UPDATE SET quantity = EXCLUDED.quantity, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
			st.Ref, pq.StringArray(upSKU), pq.Int64Array(upQty), pq.StringArray(upState), now); err != nil {
			return err
		}
	}
	if len(delSKU) > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM allocations WHERE order_ref = $1 AND sku = ANY($2)`, st.Ref, pq.StringArray(delSKU)); err != nil {
			return err
		}
	}
	return saveConflicts(ctx, tx, st.Ref, d.Conflicts, now)
}

// saveStock writes SKU counters and the ledger rows of the moves that led to them.
// base carries what every move shares (order, source, event, time).
func saveStock(ctx context.Context, tx *ltx, counters map[string]domain.SKUStock, moves []domain.StockMove, base stockMove) error {
	if len(counters) > 0 {
		var skus []string
		var onHand, reserved []int64
		for _, sku := range slices.Sorted(maps.Keys(counters)) {
			c := counters[sku]
			skus, onHand, reserved = append(skus, sku), append(onHand, c.OnHand), append(reserved, c.Reserved)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE inventory i SET on_hand = u.on_hand, reserved = u.reserved, updated_at = $4
			FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(sku, on_hand, reserved) WHERE i.sku = u.sku`,
			pq.StringArray(skus), pq.Int64Array(onHand), pq.Int64Array(reserved), tx.now); err != nil {
			return err
		}
	}
	if len(moves) == 0 {
		return nil
	}
	var skus, causes []string
	var dOnHand, dReserved, nominal []int64
	for _, m := range moves {
		skus, causes = append(skus, m.SKU), append(causes, m.Cause)
		dOnHand, dReserved, nominal = append(dOnHand, m.DeltaOnHand), append(dReserved, m.DeltaReserved), append(nominal, m.NominalOnHand)
	}
	at := base.OccurredAt
	if at.IsZero() {
		at = tx.now
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO stock_ledger (sku, cause, delta_on_hand, delta_reserved, nominal_on_hand, order_ref, source, event_id, occurred_at)
		SELECT u.sku, u.cause, u.d_on_hand, u.d_reserved, u.nominal, NULLIF($6, ''), $7, $8, $9
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS u(sku, cause, d_on_hand, d_reserved, nominal, i)
		ORDER BY u.i`,
		pq.StringArray(skus), pq.StringArray(causes), pq.Int64Array(dOnHand), pq.Int64Array(dReserved), pq.Int64Array(nominal),
		base.OrderRef, base.Source, base.EventID, at)
	return err
}
