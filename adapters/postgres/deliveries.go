package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// The outbox side of the apply path: what an applied decision tells downstream is
// decided by domain.OrderEvents and domain.StockChanges and written here, in the
// decision's own transaction, as one delivery row per destination that wants it.
// Nothing is written when no destination is configured.

// settledOrder is one order's settling: its state as loaded, what domain.Settle
// decided, and the event that settled it.
type settledOrder struct {
	st   domain.OrderState
	d    domain.Decisions
	ev   domain.Event
	told *toldFacts // what downstream was told of the order before; nil: nothing
}

// writeDeliveries writes the deliveries the settle decisions of orders make
// (distinct orders, locked by the caller) and what downstream is now told of
// each: one statement however many orders, so a batch's outbox costs what one
// order's does.
func (l *Ledger) writeDeliveries(ctx context.Context, tx *ltx, orders ...settledOrder) error {
	if len(l.Destinations) == 0 || len(orders) == 0 {
		return nil
	}
	var (
		out  []domain.Outgoing
		told toldWrite
	)
	if l.wantsAny(domain.DownOrderPlaced, domain.DownOrderUpdated, domain.DownOrderPaid, domain.DownOrderCancelled,
		domain.DownOrderRefunded, domain.DownOrderDisputed) {
		var err error
		if out, told, err = ordersOutgoing(orders); err != nil {
			return err
		}
	}
	if l.wantsAny(domain.DownStockChanged) {
		for _, o := range orders {
			for _, sku := range domain.StockChanges(o.st.Stock, o.d.Stock) {
				out = append(out, stockOutgoing(sku, o.ev, o.st.Ref))
			}
		}
	}
	return l.insertOutgoing(ctx, tx, out, told)
}

// writeEventDeliveries writes the deliveries an applied event makes by itself,
// outside any order's settling: a customer upserted, a storefront's stock level.
func (l *Ledger) writeEventDeliveries(ctx context.Context, tx *ltx, ev domain.Event, outcome string) error {
	if len(l.Destinations) == 0 || outcome != outcomeApplied {
		return nil
	}
	switch {
	case ev.Type == domain.CustomerUpserted && ev.Customer != nil && l.wantsAny(domain.DownCustomerUpserted):
		name := strings.TrimSpace(ev.Customer.FirstName + " " + ev.Customer.LastName)
		data, err := json.Marshal(domain.CustomerData{Email: ev.Customer.Email, Name: name, OrderRef: ev.OrderRef})
		if err != nil {
			return err
		}
		return l.insertOutgoing(ctx, tx, []domain.Outgoing{{Type: domain.DownCustomerUpserted,
			Key: fmt.Sprintf("%s/%s/%s/%s", domain.DownCustomerUpserted, ev.CustomerRef, ev.Source, ev.EventID), OrderRef: ev.OrderRef, Data: data}}, toldWrite{})
	case ev.Type == domain.InventoryLevelSet && ev.Stock != nil && l.wantsAny(domain.DownStockChanged):
		return l.insertOutgoing(ctx, tx, []domain.Outgoing{stockOutgoing(ev.Stock.SKU, ev, "")}, toldWrite{})
	}
	return nil
}

// writeStockDeliveries writes the stock.changed deliveries of a level set by hand.
func (l *Ledger) writeStockDeliveries(ctx context.Context, tx *ltx, sku string, ev domain.Event) error {
	if !l.wantsAny(domain.DownStockChanged) {
		return nil
	}
	return l.insertOutgoing(ctx, tx, []domain.Outgoing{stockOutgoing(sku, ev, "")}, toldWrite{})
}

// StockPushDestinations returns the destinations that take stock changes as one
// debounced push per SKU (domain.Destination.Coalesces): the ones a change of
// what is available outside the apply path (a reservation granted, released or
// expired) must reach.
func StockPushDestinations(dests []domain.Destination) []domain.Destination {
	var out []domain.Destination
	for _, d := range dests {
		if d.Coalesces() && d.Wants(domain.DownStockChanged) {
			out = append(out, d)
		}
	}
	return out
}

// writeStockPushes makes the pending push of each SKU at each stock destination
// (dests, from StockPushDestinations) pending again, in one statement, in the
// transaction that changed what is available. A SKU's push is one row however
// often it changes, so a flash sale adds one row update per batch, not a delivery
// per reservation. The SKUs are written in sorted order, after the caller has
// locked their inventory rows, the order every writer of these rows takes.
func writeStockPushes(ctx context.Context, tx *sqlx.Tx, dests []domain.Destination, skus []string, now time.Time) error {
	if len(dests) == 0 || len(skus) == 0 {
		return nil
	}
	skus = slices.Clone(skus)
	slices.Sort(skus)
	out := make([]domain.Outgoing, 0, len(skus))
	for _, sku := range slices.Compact(skus) {
		out = append(out, domain.Outgoing{Type: domain.DownStockChanged, SKU: sku, Key: domain.CoalescedStockKey(sku)})
	}
	l := &Ledger{Destinations: dests}
	return l.insertOutgoing(ctx, &ltx{Tx: tx, now: now.Truncate(time.Microsecond)}, out, toldWrite{})
}

func stockOutgoing(sku string, ev domain.Event, orderRef string) domain.Outgoing {
	return domain.Outgoing{Type: domain.DownStockChanged, SKU: sku, OrderRef: orderRef,
		Key: fmt.Sprintf("%s/%s/%s/%s/%s", domain.DownStockChanged, sku, ev.Source, ev.EventID, orderRef)}
}

func (l *Ledger) wantsAny(types ...domain.DownstreamType) bool {
	for _, d := range l.Destinations {
		for _, t := range types {
			if d.Wants(t) {
				return true
			}
		}
	}
	return false
}

// toldWrite is what downstream_orders is to hold after a batch: each order's
// facts (JSON) and downstream sequence.
type toldWrite struct {
	refs, facts []string
	seqs        []int64
}

// ordersOutgoing compares each settled order's facts with what downstream was
// told (as loaded with the order), and returns the events the changes make
// (numbered by each order's downstream sequence) and the facts to store. The
// orders' rows are locked by the caller, so what was loaded is still what is
// held when the write lands.
func ordersOutgoing(orders []settledOrder) ([]domain.Outgoing, toldWrite, error) {
	var (
		out []domain.Outgoing
		w   toldWrite
	)
	for _, o := range orders {
		after := domain.FactsOf(o.st, o.d)
		var before toldFacts
		if o.told != nil {
			if o.told.facts == after {
				continue
			}
			before = *o.told
		}
		types := domain.OrderEvents(before.facts, after)
		seq := before.seq
		if len(types) > 0 {
			seq++
		}
		facts, err := json.Marshal(after)
		if err != nil {
			return nil, toldWrite{}, err
		}
		w.refs, w.facts, w.seqs = append(w.refs, o.st.Ref), append(w.facts, string(facts)), append(w.seqs, seq)
		out = append(out, domain.OrderOutgoing(o.st.Ref, seq, types)...)
	}
	return out, w, nil
}

// insertOutgoing writes one delivery per (event, destination that wants it),
// and told into downstream_orders, in one statement. A key already delivered to
// a destination makes no second row; a coalesced stock push (one row per
// destination and SKU) is made pending again, its generation counting the
// change.
func (l *Ledger) insertOutgoing(ctx context.Context, tx *ltx, out []domain.Outgoing, told toldWrite) error {
	var (
		dest, typ, key, ref, sku, wid, data []string
		seq                                 []int64
	)
	seen := map[[2]string]bool{}
	for _, o := range out {
		for _, d := range l.Destinations {
			if !d.Wants(o.Type) {
				continue
			}
			k, orderRef := o.Key, o.OrderRef
			if o.Type == domain.DownStockChanged && d.Coalesces() {
				k, orderRef = domain.CoalescedStockKey(o.SKU), ""
			}
			if seen[[2]string{d.ID, k}] {
				continue // one row per key and statement: ON CONFLICT DO UPDATE touches a row once
			}
			seen[[2]string{d.ID, k}] = true
			dest, typ, key = append(dest, d.ID), append(typ, string(o.Type)), append(key, k)
			ref, sku, seq = append(ref, orderRef), append(sku, o.SKU), append(seq, o.Sequence)
			wid, data = append(wid, domain.WebhookID(d.ID, k)), append(data, string(o.Data))
		}
	}
	toldArgs := []any{pq.StringArray(told.refs), pq.StringArray(told.facts), pq.Int64Array(told.seqs)}
	switch {
	case len(dest) == 0 && len(told.refs) == 0:
		return nil
	case len(dest) == 0:
		_, err := tx.ExecContext(ctx, upsertTold(1), toldArgs...)
		return err
	}
	query, args := insertDeliveries, []any{pq.StringArray(dest), pq.StringArray(typ), pq.StringArray(key), pq.StringArray(ref),
		pq.StringArray(sku), pq.Int64Array(seq), pq.StringArray(wid), pq.StringArray(data), tx.now}
	if len(told.refs) > 0 {
		// Both writes in one statement: a data-modifying WITH runs whether or not
		// the statement reads it. Its parameters follow the deliveries' nine.
		query = "WITH told AS (" + upsertTold(10) + ")" + query
		args = append(args, toldArgs...)
	}
	_, err := tx.ExecContext(ctx, query, args...)
	return err
}

// insertDeliveries writes the outbox rows; $9 is the clock.
const insertDeliveries = `
	INSERT INTO deliveries (destination, event_type, event_key, order_ref, sku, sequence, webhook_id, data, created_at, updated_at)
	SELECT u.dest, u.typ, u.key, NULLIF(u.ref, ''), NULLIF(u.sku, ''), u.seq, u.wid, NULLIF(u.data, '')::jsonb, $9, $9
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])
		AS u(dest, typ, key, ref, sku, seq, wid, data)
	ON CONFLICT (destination, event_key) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = NULL,
		queued_at = NULL, generation = deliveries.generation + 1, updated_at = EXCLUDED.updated_at
	WHERE deliveries.event_key = 'stock.changed/' || deliveries.sku`

// upsertTold stores what downstream is told of each order: its parameters,
// from $first, are the refs, the facts as JSON and the sequences.
func upsertTold(first int) string {
	return fmt.Sprintf(`
	INSERT INTO downstream_orders (order_ref, facts, seq)
	SELECT u.ref, u.facts::jsonb, u.seq FROM unnest($%d::text[], $%d::text[], $%d::bigint[]) AS u(ref, facts, seq)
	ON CONFLICT (order_ref) DO UPDATE SET facts = EXCLUDED.facts, seq = EXCLUDED.seq`, first, first+1, first+2)
}

// Deliveries is the PostgreSQL outbox of downstream deliveries (domain.Deliveries).
type Deliveries struct {
	DB  sqlx.ExtContext
	Now func() time.Time
}

var _ domain.Deliveries = (*Deliveries)(nil)

func (s *Deliveries) now() time.Time {
	if s.Now == nil {
		return time.Now().Truncate(time.Microsecond)
	}
	return s.Now().Truncate(time.Microsecond)
}

type deliveryRow struct {
	ID             int64          `db:"id"`
	Destination    string         `db:"destination"`
	EventType      string         `db:"event_type"`
	EventKey       string         `db:"event_key"`
	OrderRef       sql.NullString `db:"order_ref"`
	SKU            sql.NullString `db:"sku"`
	Sequence       int64          `db:"sequence"`
	Data           []byte         `db:"data"`
	WebhookID      string         `db:"webhook_id"`
	Generation     int            `db:"generation"`
	Status         string         `db:"status"`
	Attempts       int            `db:"attempts"`
	LastStatusCode int            `db:"last_status_code"`
	LastError      string         `db:"last_error"`
	NextAttemptAt  sql.NullTime   `db:"next_attempt_at"`
	CreatedAt      time.Time      `db:"created_at"`
	DeliveredAt    sql.NullTime   `db:"delivered_at"`
}

const deliveryColumns = `id, destination, event_type, event_key, order_ref, sku, sequence, data, webhook_id, generation, status, attempts,
	last_status_code, last_error, next_attempt_at, created_at, delivered_at`

func (r deliveryRow) delivery() domain.Outbound {
	return domain.Outbound{
		ID: r.ID, Destination: r.Destination, Type: domain.DownstreamType(r.EventType), Key: r.EventKey,
		OrderRef: r.OrderRef.String, SKU: r.SKU.String, Sequence: r.Sequence, Data: r.Data, WebhookID: r.WebhookID, Generation: r.Generation,
		Status: domain.DeliveryStatus(r.Status), Attempts: r.Attempts, LastStatusCode: r.LastStatusCode, LastError: r.LastError,
		NextAttemptAt: r.NextAttemptAt.Time, CreatedAt: r.CreatedAt, DeliveredAt: r.DeliveredAt.Time,
	}
}

// Delivery implements domain.Deliveries. Returns ENOTFOUND.
func (s *Deliveries) Delivery(ctx context.Context, id int64) (domain.Outbound, []domain.DeliveryAttempt, error) {
	var r deliveryRow
	if err := sqlx.GetContext(ctx, s.DB, &r, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = $1`, id); err != nil {
		return domain.Outbound{}, nil, translate(fmt.Sprintf("delivery %d", id), err)
	}
	var rows []struct {
		At         time.Time `db:"at"`
		StatusCode int       `db:"status_code"`
		LatencyMS  int64     `db:"latency_ms"`
		Error      string    `db:"error"`
		RetryInMS  int64     `db:"retry_in_ms"`
	}
	if err := sqlx.SelectContext(ctx, s.DB, &rows, `
		SELECT at, status_code, latency_ms, error, retry_in_ms FROM delivery_attempts WHERE delivery_id = $1 ORDER BY n`, id); err != nil {
		return domain.Outbound{}, nil, translate("delivery attempts", err)
	}
	attempts := make([]domain.DeliveryAttempt, len(rows))
	for i, a := range rows {
		attempts[i] = domain.DeliveryAttempt{At: a.At, StatusCode: a.StatusCode, Latency: time.Duration(a.LatencyMS) * time.Millisecond,
			Error: a.Error, RetryIn: time.Duration(a.RetryInMS) * time.Millisecond}
	}
	return r.delivery(), attempts, nil
}

// List implements domain.Deliveries.
func (s *Deliveries) List(ctx context.Context, f domain.DeliveryFilter) ([]domain.Outbound, error) {
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var rows []deliveryRow
	err := sqlx.SelectContext(ctx, s.DB, &rows, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE ($1 = '' OR destination = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR order_ref = $3)
			AND ($4 = 0 OR id < $4)
		ORDER BY id DESC LIMIT $5`, f.Destination, string(f.Status), f.OrderRef, f.After, limit)
	if err != nil {
		return nil, translate("list deliveries", err)
	}
	out := make([]domain.Outbound, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, nil
}

// BeginAttempt implements domain.Deliveries. Returns ENOTFOUND.
func (s *Deliveries) BeginAttempt(ctx context.Context, id int64) (domain.Outbound, error) {
	var r deliveryRow
	err := sqlx.GetContext(ctx, s.DB, &r, `UPDATE deliveries SET attempts = attempts + 1, updated_at = $2
		WHERE id = $1 RETURNING `+deliveryColumns, id, s.now())
	return r.delivery(), translate(fmt.Sprintf("begin attempt at delivery %d", id), err)
}

// FinishAttempt implements domain.Deliveries: the attempt row and the delivery's
// new state in one statement.
func (s *Deliveries) FinishAttempt(ctx context.Context, id int64, o domain.DeliveryOutcome) (domain.DeliveryStatus, error) {
	a := o.Attempt
	var status string
	err := sqlx.GetContext(ctx, s.DB, &status, `
		WITH d AS (
			UPDATE deliveries SET
				status = CASE WHEN $2 = 'delivered' AND generation <> $10 THEN 'pending' ELSE $2 END,
				last_status_code = $3, last_error = $4, next_attempt_at = $5, updated_at = $6,
				delivered_at = CASE WHEN $2 = 'delivered' THEN $6 ELSE delivered_at END
			WHERE id = $1 RETURNING attempts, status),
		a AS (
			-- n numbers every attempt the delivery ever had: a replay counts its
			-- attempts from zero again, but adds to the history.
			INSERT INTO delivery_attempts (delivery_id, n, at, status_code, latency_ms, error, retry_in_ms)
			SELECT $1, (SELECT COALESCE(max(n), 0) + 1 FROM delivery_attempts WHERE delivery_id = $1), $7, $3, $8, $4, $9 FROM d
			ON CONFLICT (delivery_id, n) DO UPDATE SET at = EXCLUDED.at, status_code = EXCLUDED.status_code,
				latency_ms = EXCLUDED.latency_ms, error = EXCLUDED.error, retry_in_ms = EXCLUDED.retry_in_ms)
		SELECT status FROM d`,
		id, string(o.Status), a.StatusCode, a.Error, nullTime(o.NextAt), s.now(), a.At, a.Latency.Milliseconds(), a.RetryIn.Milliseconds(),
		o.Generation)
	return domain.DeliveryStatus(status), translate(fmt.Sprintf("finish attempt at delivery %d", id), err)
}

// Retry implements domain.Deliveries. Returns ENOTFOUND.
func (s *Deliveries) Retry(ctx context.Context, id int64) (domain.Outbound, error) {
	var r deliveryRow
	err := sqlx.GetContext(ctx, s.DB, &r, `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = NULL,
		queued_at = $2, updated_at = $2 WHERE id = $1 RETURNING `+deliveryColumns, id, s.now())
	if err == sql.ErrNoRows {
		return domain.Outbound{}, domain.Errorf(domain.ENOTFOUND, "no delivery %d", id)
	}
	return r.delivery(), translate(fmt.Sprintf("retry delivery %d", id), err)
}

// RetryMatching implements domain.Deliveries: one statement, one page.
func (s *Deliveries) RetryMatching(ctx context.Context, destination string, status domain.DeliveryStatus, since, until time.Time, after int64, limit int) ([]domain.Outbound, error) {
	var rows []deliveryRow
	err := sqlx.SelectContext(ctx, s.DB, &rows, `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = NULL,
		queued_at = $5, updated_at = $5
		WHERE id IN (SELECT id FROM deliveries
			WHERE destination = $1 AND status = $2 AND ($3::timestamptz IS NULL OR created_at >= $3)
				AND ($4::timestamptz IS NULL OR created_at < $4) AND id > $6
			ORDER BY id LIMIT $7 FOR UPDATE)
		RETURNING `+deliveryColumns, destination, string(status), nullTime(since), nullTime(until), s.now(), after, limit)
	if err != nil {
		return nil, translate("retry deliveries", err)
	}
	out := make([]domain.Outbound, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	slices.SortFunc(out, func(a, b domain.Outbound) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UnqueuedDestinations returns the destinations that have deliveries whose task
// was never queued: a skip scan of deliveries_unqueued_by_destination, a probe
// per destination however many deliveries wait.
func (s *Deliveries) UnqueuedDestinations(ctx context.Context) ([]string, error) {
	var out []string
	err := sqlx.SelectContext(ctx, s.DB, &out, `
		WITH RECURSIVE d(destination) AS (
			(SELECT destination FROM deliveries WHERE queued_at IS NULL ORDER BY destination LIMIT 1)
			UNION ALL
			SELECT (SELECT x.destination FROM deliveries x WHERE x.queued_at IS NULL AND x.destination > d.destination
				ORDER BY x.destination LIMIT 1)
			FROM d WHERE d.destination IS NOT NULL)
		SELECT destination FROM d WHERE destination IS NOT NULL`)
	return out, translate("destinations with unqueued deliveries", err)
}

// Unqueued returns up to limit of destination's deliveries whose task was never
// queued, oldest first.
func (s *Deliveries) Unqueued(ctx context.Context, destination string, limit int) ([]domain.DeliveryRef, error) {
	var out []domain.DeliveryRef
	err := sqlx.SelectContext(ctx, s.DB, &out, `SELECT id, destination, event_type, COALESCE(sku, '') AS sku FROM deliveries
		WHERE queued_at IS NULL AND destination = $1 ORDER BY id LIMIT $2`, destination, limit)
	return out, translate("unqueued deliveries", err)
}

// Unsent counts destination's deliveries queued but not yet tried. It reads the
// destination's open deliveries (deliveries_not_delivered), so the dispatcher asks
// it only of a destination that is failing.
func (s *Deliveries) Unsent(ctx context.Context, destination string) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, s.DB, &n, `SELECT count(*) FROM deliveries
		WHERE destination = $1 AND status = 'pending' AND attempts = 0 AND queued_at IS NOT NULL`, destination)
	return n, translate("unsent deliveries", err)
}

// MarkQueued records that the tasks of ids were queued.
func (s *Deliveries) MarkQueued(ctx context.Context, ids []int64) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE deliveries SET queued_at = $2 WHERE id = ANY($1)`, pq.Int64Array(ids), s.now())
	return translate("mark deliveries queued", err)
}

// Open returns deliveries still to be delivered (pending or failed) whose task
// was queued, last touched before `before`, after id `after`, in id order: the
// sweeper's candidates for a lost task. Deliveries of disabled destinations are
// left out, and so are those never queued (Dispatch's: a destination whose
// breaker is open keeps its new deliveries unqueued).
func (s *Deliveries) Open(ctx context.Context, before time.Time, after int64, limit int) ([]domain.DeliveryRef, error) {
	var out []domain.DeliveryRef
	err := sqlx.SelectContext(ctx, s.DB, &out, `SELECT d.id, d.destination, d.event_type, COALESCE(d.sku, '') AS sku FROM deliveries d
		WHERE d.status IN ('pending', 'failed') AND d.queued_at IS NOT NULL AND d.updated_at < $1 AND d.id > $2
			AND COALESCE(d.next_attempt_at, '-infinity') < $1
			AND NOT EXISTS (SELECT 1 FROM destinations x WHERE x.id = d.destination AND x.disabled_reason <> '')
		ORDER BY d.id LIMIT $3`, before, after, limit)
	return out, translate("open deliveries", err)
}
