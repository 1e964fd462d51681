package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// fastEvent reports whether an event can be applied by applyBatchFast: payment
// authorizations, captures and failures and order snapshots that name their
// order, and events only recorded. Refunds (folded per refund, with their
// restock lines), disputes, stock levels and customers take the per-event path.
func fastEvent(ev domain.Event) bool {
	switch ev.Type {
	case domain.PaymentAuthorized, domain.PaymentSucceeded, domain.PaymentFailed,
		domain.OrderPlaced, domain.OrderUpdated, domain.OrderCancelled, domain.OrderFulfilled:
		return ev.OrderRef != ""
	case domain.PaymentRefunded, domain.RefundFailed, domain.DisputeOpened, domain.DisputeClosed,
		domain.InventoryLevelSet, domain.CustomerUpserted:
		return false
	}
	return true // recorded
}

// fastEntry reports whether an entry can join applyBatchFast: every event fast,
// and at most one that settles an order. A fast batch settles each order once,
// after all its events; with one settling event per order (fastChunks sees to
// the orders) that is what the one-entry path does, decisions and the
// deliveries they make alike.
func fastEntry(e domain.EntryEvents) bool {
	settling := 0
	for _, ev := range e.Events {
		if !fastEvent(ev) {
			return false
		}
		if isPayment(ev.Type) || isOrder(ev.Type) {
			settling++
		}
	}
	return settling <= 1
}

// fastOrder is the order a fast entry settles, "" for none.
func fastOrder(e domain.EntryEvents) string {
	for _, ev := range e.Events {
		if isPayment(ev.Type) || isOrder(ev.Type) {
			return ev.OrderRef
		}
	}
	return ""
}

// fastChunks splits fast entries into batches of at most max in which no two
// entries settle the same order; an entry whose order is taken waits for a later
// batch, so an order's entries still go in their arrival order.
func fastChunks(entries []domain.EntryEvents, idx []int, max int) [][]int {
	var chunks [][]int
	for len(idx) > 0 {
		var chunk, rest []int
		taken := map[string]bool{}
		for _, i := range idx {
			ref := fastOrder(entries[i])
			if len(chunk) == max || (ref != "" && taken[ref]) {
				rest = append(rest, i)
				continue
			}
			if ref != "" {
				taken[ref] = true
			}
			chunk = append(chunk, i)
		}
		chunks, idx = append(chunks, chunk), rest
	}
	return chunks
}

// batchEvent is one event of a batch, with the entry it came in.
type batchEvent struct {
	entry   int64
	ev      domain.Event
	outcome string
	body    string
}

// applyBatchFast applies entries[idx...] in one transaction, a statement per
// table for the whole batch rather than per event: the inbox claims, the order
// locks, the applied_events rows, the order snapshots, the payments and their
// refunds; then each order touched is settled once, in lock order, as the
// one-entry path settles it after its events. It ends in the state applying the
// entries one by one reaches (payments fold with GREATEST/OR, snapshots by
// domain.NewerSnapshot, both indifferent to grouping). Any error fails the whole
// batch (nothing commits); the caller then isolates the bad entry (applyBatch).
func (l *Ledger) applyBatchFast(ctx context.Context, entries []domain.EntryEvents, idx []int, errs []error) error {
	absent := map[int]error{}
	err := l.inBatch(ctx, entries, idx, func(tx *batchTx) error {
		var evs []batchEvent
		for _, i := range tx.idx {
			e := entries[i]
			c, ok := tx.claims[e.ID]
			if !ok {
				absent[i] = missing(e.ID)
				continue
			}
			if !c.Claimed {
				continue
			}
			for _, ev := range e.Events {
				body, err := json.Marshal(ev)
				if err != nil {
					return err
				}
				outcome := outcomeApplied
				if !isPayment(ev.Type) && !isOrder(ev.Type) {
					outcome = outcomeRecorded
				}
				evs = append(evs, batchEvent{entry: e.ID, ev: ev, outcome: outcome, body: string(body)})
			}
		}
		fresh, err := recordEvents(ctx, tx.ltx, evs)
		if err != nil {
			return err
		}

		// Snapshots, per order in arrival order, as applyOrder takes them.
		var stale []batchEvent
		changed := map[string]bool{}
		settleBy := map[string]domain.Event{} // order → its last new event
		for _, be := range fresh {
			ev := be.ev
			if isPayment(ev.Type) || isOrder(ev.Type) {
				settleBy[ev.OrderRef] = ev
			}
			if !isOrder(ev.Type) {
				continue
			}
			cur := tx.orders[ev.OrderRef]
			next, ok, err := nextSnapshot(cur, ev, tx.now)
			if err != nil {
				return fmt.Errorf("%s %s: %w", ev.Type, ev.EventID, err)
			}
			if !ok {
				stale = append(stale, be)
				continue
			}
			tx.orders[ev.OrderRef], changed[ev.OrderRef] = next, true
		}
		if err := saveSnapshots(ctx, tx.ltx, tx.orders, changed); err != nil {
			return err
		}
		if err := savePayments(ctx, tx.ltx, fresh); err != nil {
			return err
		}
		if err := l.settleMany(ctx, tx.ltx, settleBy); err != nil {
			return err
		}
		if len(stale) > 0 {
			var src, id []string
			for _, be := range stale {
				src, id = append(src, be.ev.Source), append(id, be.ev.EventID)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE applied_events a SET outcome = 'stale'
				FROM unnest($1::text[], $2::text[]) AS u(source, event_id) WHERE a.source = u.source AND a.event_id = u.event_id`,
				pq.StringArray(src), pq.StringArray(id)); err != nil {
				return err
			}
		}
		return tx.dropUnused(ctx, func(ref string) bool { _, ok := settleBy[ref]; return ok })
	})
	if err != nil {
		return err
	}
	for i, e := range absent {
		errs[i] = e
	}
	return nil
}

func isPayment(t domain.EventType) bool {
	switch t {
	case domain.PaymentAuthorized, domain.PaymentSucceeded, domain.PaymentFailed, domain.PaymentRefunded:
		return true
	}
	return false
}

func isOrder(t domain.EventType) bool {
	switch t {
	case domain.OrderPlaced, domain.OrderUpdated, domain.OrderCancelled, domain.OrderFulfilled:
		return true
	}
	return false
}

// recordEvents inserts the applied_events rows of evs in one statement and
// returns the events that were new, in order: an event applied before, or twice
// in the batch, is recorded once, by its first arrival.
func recordEvents(ctx context.Context, tx *ltx, evs []batchEvent) ([]batchEvent, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	n := len(evs)
	src, id, typ, ref, at, outcome, body := make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	inbox := make([]int64, n)
	for i, be := range evs {
		src[i], id[i], typ[i], ref[i], outcome[i], body[i] = be.ev.Source, be.ev.EventID, string(be.ev.Type), be.ev.OrderRef, be.outcome, be.body
		inbox[i] = be.entry
		if !be.ev.OccurredAt.IsZero() {
			at[i] = be.ev.OccurredAt.Format(time.RFC3339Nano)
		}
	}
	var rows []struct {
		Source  string `db:"source"`
		EventID string `db:"event_id"`
	}
	if err := tx.SelectContext(ctx, &rows, `
		INSERT INTO applied_events (source, event_id, inbox_id, event_type, order_ref, occurred_at, outcome, event)
		SELECT u.source, u.event_id, u.inbox_id, u.event_type, NULLIF(u.order_ref, ''), NULLIF(u.occurred_at, '')::timestamptz,
			u.outcome, u.event::jsonb
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
			WITH ORDINALITY AS u(source, event_id, inbox_id, event_type, order_ref, occurred_at, outcome, event, i)
		ORDER BY u.i
		ON CONFLICT DO NOTHING RETURNING source, event_id`,
		pq.StringArray(src), pq.StringArray(id), pq.Int64Array(inbox), pq.StringArray(typ), pq.StringArray(ref),
		pq.StringArray(at), pq.StringArray(outcome), pq.StringArray(body)); err != nil {
		return nil, err
	}
	type key struct{ source, id string }
	inserted := make(map[key]bool, len(rows))
	for _, r := range rows {
		inserted[key{r.Source, r.EventID}] = true
	}
	var fresh []batchEvent
	for _, be := range evs {
		k := key{be.ev.Source, be.ev.EventID}
		if inserted[k] {
			fresh = append(fresh, be)
			delete(inserted, k) // a second arrival in the batch is a replay
		}
	}
	return fresh, nil
}

// nextSnapshot is applyOrder over a row held in memory: the row after ev, and
// false when ev is older than the snapshot held (stale).
func nextSnapshot(cur orderRow, ev domain.Event, now time.Time) (orderRow, bool, error) {
	if cur.SnapshotEvent != "" && !domain.NewerSnapshot(ev.Version, ev.OccurredAt, ev.EventID, cur.Version, cur.SnapshotAt.Time, cur.SnapshotEvent) {
		return cur, false, nil
	}
	status := domain.StatusPlaced
	switch ev.Type {
	case domain.OrderCancelled:
		status = domain.StatusCancelled
	case domain.OrderFulfilled:
		status = domain.StatusFulfilled
	}
	next := cur
	next.Version, next.SnapshotAt, next.SnapshotEvent, next.UpdatedAt = ev.Version, nullTime(ev.OccurredAt), ev.EventID, now
	if ev.Order == nil || (ev.Order.Currency == "" && ev.Order.Total == 0 && len(ev.Order.Lines) == 0) {
		next.Status = string(status) // a bare status change keeps money and lines
		return next, true, nil
	}
	if ev.Order.Status != "" {
		status = ev.Order.Status
	}
	lines, err := json.Marshal(ev.Order.Lines)
	if err != nil {
		return cur, false, err
	}
	next.Status, next.Currency, next.Total, next.Lines = string(status), ev.Order.Currency, ev.Order.Total, lines
	return next, true, nil
}

// saveSnapshots writes the snapshot columns of the changed orders, one statement.
func saveSnapshots(ctx context.Context, tx *ltx, orders map[string]orderRow, changed map[string]bool) error {
	if len(changed) == 0 {
		return nil
	}
	var ref, status, currency, lines, at, event []string
	var total, version []int64
	for _, r := range slices.Sorted(maps.Keys(changed)) {
		o := orders[r]
		ref, status, currency, lines, event = append(ref, r), append(status, o.Status), append(currency, o.Currency),
			append(lines, string(o.Lines)), append(event, o.SnapshotEvent)
		total, version = append(total, o.Total), append(version, o.Version)
		s := ""
		if o.SnapshotAt.Valid {
			s = o.SnapshotAt.Time.Format(time.RFC3339Nano)
		}
		at = append(at, s)
	}
	_, err := tx.ExecContext(ctx, `
		UPDATE orders o SET status = u.status, currency = u.currency, total = u.total, lines = u.lines::jsonb,
			version = u.version, snapshot_at = NULLIF(u.snapshot_at, '')::timestamptz, snapshot_event = u.snapshot_event, updated_at = $9
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::text[])
			AS u(ref, status, currency, total, lines, version, snapshot_at, snapshot_event)
		WHERE o.ref = u.ref`,
		pq.StringArray(ref), pq.StringArray(status), pq.StringArray(currency), pq.Int64Array(total), pq.StringArray(lines),
		pq.Int64Array(version), pq.StringArray(at), pq.StringArray(event), tx.now)
	return err
}

// savePayments folds the batch's payment events into their payment rows, one
// statement. Several events of one payment are
// folded in SQL first (GROUP BY), the same folds the upsert applies to the row
// held, so the row ends as applying them one by one leaves it.
func savePayments(ctx context.Context, tx *ltx, fresh []batchEvent) error {
	var provider, ref, source, orderRef, currency, reason []string
	var authorized, captured, refunded []int64
	var failed []bool
	for _, be := range fresh {
		ev := be.ev
		if !isPayment(ev.Type) {
			continue
		}
		p := ev.Payment
		if p == nil {
			p = &domain.PaymentChange{}
		}
		f := foldPayment(ev.Type, p)
		provider, ref, source, orderRef, currency, reason = append(provider, ev.Provider), append(ref, ev.PaymentRef),
			append(source, ev.Source), append(orderRef, ev.OrderRef), append(currency, p.Currency), append(reason, f.reason)
		authorized, captured, refunded, failed = append(authorized, f.authorized), append(captured, f.captured),
			append(refunded, f.refundedTotal), append(failed, f.failed)
	}
	if len(provider) > 0 {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO payments (provider, ref, source, order_ref, currency, authorized, captured, refunded_total, failed, failure_reason)
			SELECT u.provider, u.ref, (array_agg(u.source ORDER BY u.i))[1],
				(array_agg(u.order_ref ORDER BY u.i) FILTER (WHERE u.order_ref <> ''))[1],
				COALESCE((array_agg(u.currency ORDER BY u.i) FILTER (WHERE u.currency <> ''))[1], ''),
				max(u.authorized), max(u.captured), max(u.refunded), bool_or(u.failed), max(u.reason)
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::boolean[], $10::text[])
				WITH ORDINALITY AS u(provider, ref, source, order_ref, currency, authorized, captured, refunded, failed, reason, i)
			GROUP BY u.provider, u.ref ORDER BY u.provider, u.ref
			`+paymentUpsert,
			pq.StringArray(provider), pq.StringArray(ref), pq.StringArray(source), pq.StringArray(orderRef), pq.StringArray(currency),
			pq.Int64Array(authorized), pq.Int64Array(captured), pq.Int64Array(refunded), pq.BoolArray(failed), pq.StringArray(reason), tx.now); err != nil {
			return err
		}
	}
	return nil
}
