package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// Ops reads what the ops pages and the API's list endpoints show. Every list
// pages by key over an index (migrations 00001, 00013), never by offset.
type Ops struct {
	DB sqlx.ExtContext
}

var _ domain.OpsReader = (*Ops)(nil)

func clampLimit(n, def int) int {
	if n <= 0 || n > 1000 {
		return def
	}
	return n
}

// OrderRequests implements domain.OpsReader. Stored entries are found by the
// order ref read from their body at ingress (inbox_by_order_ref) and by their
// applied events (applied_events_by_order, verified); refused requests by the
// ref read from their body (rejections_by_order_ref).
func (s *Ops) OrderRequests(ctx context.Context, ref string, limit int) (domain.OrderRequests, error) {
	limit = clampLimit(limit, 100)
	var rows []struct {
		inboxRow
		Verified bool `db:"verified"`
	}
	err := sqlx.SelectContext(ctx, s.DB, &rows, `
		WITH hits AS (
			SELECT inbox_id AS id, true AS verified FROM applied_events WHERE order_ref = $1 AND inbox_id IS NOT NULL
			UNION ALL
			(SELECT id, false FROM inbox WHERE order_ref = $1 ORDER BY id DESC LIMIT $2)
		), ids AS (SELECT id, bool_or(verified) AS verified FROM hits GROUP BY id)
		SELECT i.id, i.source, i.provider, i.event_id, i.event_type, '{}'::jsonb AS headers, ''::bytea AS body, i.occurred_at,
			i.received_at, i.status, i.attempts, i.last_error, i.unconfirmed, i.applied_at, ids.verified
		FROM ids JOIN inbox i ON i.id = ids.id
		ORDER BY i.id DESC LIMIT $2`, ref, limit)
	if err != nil {
		return domain.OrderRequests{}, translate(fmt.Sprintf("webhooks naming order %q", ref), err)
	}
	var out domain.OrderRequests
	for _, r := range rows {
		e, err := r.entry()
		if err != nil {
			return out, err
		}
		e.OrderRef, e.OrderRefVerified = ref, r.Verified
		out.Webhooks = append(out.Webhooks, e)
	}
	out.Rejections, err = s.rejections(ctx, `WHERE order_ref = $1 AND inbox_id IS NULL ORDER BY id DESC LIMIT $2`, ref, limit)
	return out, err
}

type rejectionRow struct {
	ID         int64          `db:"id"`
	Source     string         `db:"source"`
	Cause      string         `db:"cause"`
	Detail     string         `db:"detail"`
	RemoteAddr string         `db:"remote_addr"`
	ReceivedAt time.Time      `db:"received_at"`
	InboxID    sql.NullInt64  `db:"inbox_id"`
	OrderRef   sql.NullString `db:"order_ref"`
}

func (s *Ops) rejections(ctx context.Context, where string, args ...any) ([]domain.Rejection, error) {
	var rows []rejectionRow
	err := sqlx.SelectContext(ctx, s.DB, &rows,
		`SELECT id, source, cause, detail, remote_addr, received_at, inbox_id, order_ref FROM rejections `+where, args...)
	if err != nil {
		return nil, translate("list rejections", err)
	}
	out := make([]domain.Rejection, len(rows))
	for i, r := range rows {
		out[i] = domain.Rejection{ID: r.ID, Source: r.Source, Cause: r.Cause, Detail: r.Detail, RemoteAddr: r.RemoteAddr,
			ReceivedAt: r.ReceivedAt.UTC(), InboxID: r.InboxID.Int64, OrderRef: r.OrderRef.String}
	}
	return out, nil
}

// RejectionList implements domain.OpsReader.
func (s *Ops) RejectionList(ctx context.Context, f domain.RejectionFilter) ([]domain.Rejection, error) {
	return s.rejections(ctx, `WHERE ($1 = '' OR source = $1) AND ($2 = '' OR cause = $2) AND ($3 = 0 OR id < $3)
		ORDER BY id DESC LIMIT $4`, f.Source, f.Cause, f.BeforeID, clampLimit(f.Limit, 100))
}

// effectiveStatus is an order's status as the API shows it (domain.Order.DisplayStatus).
const effectiveStatus = `CASE WHEN COALESCE(NULLIF(local_status, ''), status) = 'placed' AND payment_status IN ('paid', 'overpaid')
	THEN 'confirmed' ELSE COALESCE(NULLIF(local_status, ''), status) END`

// Orders implements domain.OpsReader: newest change first, over orders_by_updated.
func (s *Ops) Orders(ctx context.Context, f domain.OrderFilter) ([]domain.Order, error) {
	var afterAt sql.NullTime
	afterRef := ""
	if f.After != nil {
		afterAt, afterRef = sql.NullTime{Time: f.After.UpdatedAt, Valid: true}, f.After.Ref
	}
	var rows []orderRow
	err := sqlx.SelectContext(ctx, s.DB, &rows, `SELECT `+orderColumns+` FROM orders
		WHERE ($1 = '' OR `+effectiveStatus+` = $1) AND ($2 = '' OR payment_status = $2)
			AND ($3::timestamptz IS NULL OR updated_at >= $3)
			AND ($4::timestamptz IS NULL OR (updated_at, ref) < ($4, $5))
		ORDER BY updated_at DESC, ref DESC LIMIT $6`,
		string(f.Status), string(f.PaymentStatus), nullTime(f.UpdatedSince), afterAt, afterRef, clampLimit(f.Limit, 100))
	if err != nil {
		return nil, translate("list orders", err)
	}
	out := make([]domain.Order, len(rows))
	for i, r := range rows {
		out[i] = domain.Order{
			Ref: r.Ref, Status: r.status(), PaymentStatus: domain.PaymentStatus(r.PaymentStatus),
			Currency: r.Currency, Total: r.Total, Version: r.Version, SnapshotAt: r.SnapshotAt.Time,
			CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		}
		if err := json.Unmarshal(r.Lines, &out[i].Lines); err != nil {
			return nil, fmt.Errorf("order %q lines: %w", r.Ref, err)
		}
	}
	return out, nil
}

// FindOrders implements domain.OpsReader: an order ref, a payment's reference, or
// a customer's email, each over its own index.
func (s *Ops) FindOrders(ctx context.Context, q string, limit int) ([]string, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	var refs []string
	err := sqlx.SelectContext(ctx, s.DB, &refs, `
		SELECT ref FROM (
			SELECT ref FROM orders WHERE ref = $1
			UNION SELECT order_ref FROM payments WHERE ref = $1 AND order_ref IS NOT NULL
			UNION SELECT order_ref FROM applied_events
				WHERE lower(event->'customer'->>'email') = lower($1) AND event->'customer'->>'email' IS NOT NULL AND order_ref IS NOT NULL
		) r ORDER BY ref LIMIT $2`, q, clampLimit(limit, 50))
	return refs, translate("find orders", err)
}

// StockList implements domain.OpsReader: SKU order over the primary key.
func (s *Ops) StockList(ctx context.Context, f domain.StockFilter) ([]domain.StockRow, error) {
	var tracked sql.NullBool
	if f.Tracked != nil {
		tracked = sql.NullBool{Bool: *f.Tracked, Valid: true}
	}
	var below sql.NullInt64
	if f.Below != nil {
		below = sql.NullInt64{Int64: *f.Below, Valid: true}
	}
	var rows []struct {
		inventoryRow
		Backordered int64 `db:"backordered"`
	}
	err := sqlx.SelectContext(ctx, s.DB, &rows, `
		SELECT `+inventoryColumns+`, COALESCE(b.n, 0) AS backordered
		FROM inventory i
		LEFT JOIN LATERAL (SELECT sum(quantity) AS n FROM allocations a WHERE a.sku = i.sku AND a.state = 'backordered') b ON true
		WHERE ($1::bool IS NULL OR (i.set_at IS NOT NULL) = $1) AND ($2::bigint IS NULL OR i.on_hand - i.reserved < $2)
			AND (NOT $3 OR b.n > 0) AND i.sku > $4
		ORDER BY i.sku LIMIT $5`, tracked, below, f.Backordered, f.After, clampLimit(f.Limit, 100))
	if err != nil {
		return nil, translate("list inventory", err)
	}
	out := make([]domain.StockRow, len(rows))
	for i, r := range rows {
		out[i] = domain.StockRow{Stock: r.stock(), Tracked: r.SetAt.Valid, Backordered: r.Backordered}
	}
	return out, nil
}

// Ledger implements domain.OpsReader.
func (s *Ops) Ledger(ctx context.Context, sku string, limit int) ([]domain.LedgerLine, error) {
	var rows []struct {
		ID            int64          `db:"id"`
		Cause         string         `db:"cause"`
		DeltaOnHand   int64          `db:"delta_on_hand"`
		DeltaReserved int64          `db:"delta_reserved"`
		OrderRef      sql.NullString `db:"order_ref"`
		Source        string         `db:"source"`
		EventID       string         `db:"event_id"`
		OccurredAt    time.Time      `db:"occurred_at"`
	}
	err := sqlx.SelectContext(ctx, s.DB, &rows, `
		SELECT id, cause, delta_on_hand, delta_reserved, order_ref, source, event_id, occurred_at
		FROM stock_ledger WHERE sku = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2`, sku, clampLimit(limit, 100))
	if err != nil {
		return nil, translate(fmt.Sprintf("ledger of %q", sku), err)
	}
	out := make([]domain.LedgerLine, len(rows))
	for i, r := range rows {
		out[i] = domain.LedgerLine{ID: r.ID, Cause: r.Cause, DeltaOnHand: r.DeltaOnHand, DeltaReserved: r.DeltaReserved,
			OrderRef: r.OrderRef.String, Source: r.Source, EventID: r.EventID, OccurredAt: r.OccurredAt.UTC()}
	}
	return out, nil
}

// Payments implements domain.OpsReader.
func (s *Ops) Payments(ctx context.Context, ref string) ([]domain.PaymentLine, error) {
	var out []domain.PaymentLine
	err := sqlx.SelectContext(ctx, s.DB, &out, `
		SELECT 'payment' AS kind, provider, ref, GREATEST(captured, authorized) AS amount, currency,
			CASE WHEN failed THEN 'failed' WHEN captured > 0 THEN 'captured' ELSE 'authorized' END AS status
		FROM payments WHERE order_ref = $1
		UNION ALL
		SELECT 'refund', r.provider, r.ref, r.amount, r.currency, 'refunded'
		FROM payments p JOIN refunds r ON r.provider = p.provider AND r.payment_ref = p.ref WHERE p.order_ref = $1
		UNION ALL
		SELECT 'refund', provider, ref || ' (cumulative)', refunded_total, currency, 'refunded'
		FROM payments WHERE order_ref = $1 AND refunded_total > 0
		UNION ALL
		SELECT 'dispute', d.provider, d.ref, d.amount, d.currency, d.status || CASE WHEN d.closed THEN ' (closed)' ELSE '' END
		FROM payments p JOIN disputes d ON d.provider = p.provider AND d.payment_ref = p.ref WHERE p.order_ref = $1
		ORDER BY 1 DESC, 3`, ref)
	return out, translate(fmt.Sprintf("payments of order %q", ref), err)
}

// Holdings implements domain.OpsReader.
func (s *Ops) Holdings(ctx context.Context, ref string) ([]domain.OrderHolding, error) {
	var out []domain.OrderHolding
	err := sqlx.SelectContext(ctx, s.DB, &out,
		`SELECT sku, quantity, state FROM allocations WHERE order_ref = $1 ORDER BY sku`, ref)
	return out, translate(fmt.Sprintf("holdings of order %q", ref), err)
}

// HourlyCounts implements domain.OpsReader. The range is read over the BRIN
// index on received_at (00004).
func (s *Ops) HourlyCounts(ctx context.Context, since time.Time) ([]domain.HourCount, error) {
	var out []domain.HourCount
	err := sqlx.SelectContext(ctx, s.DB, &out, `
		SELECT date_trunc('hour', received_at) AS hour, source, status, count(*) AS n
		FROM inbox WHERE received_at >= $1 GROUP BY 1, 2, 3
		UNION ALL
		SELECT date_trunc('hour', received_at), source, 'rejected:' || cause, count(*)
		FROM rejections WHERE received_at >= $1 AND inbox_id IS NULL GROUP BY 1, 2, 3
		ORDER BY 1, 2, 3`, since)
	for i := range out {
		out[i].Hour = out[i].Hour.UTC()
	}
	return out, translate("count webhooks per hour", err)
}

// RecordAction implements domain.OpsReader.
func (s *Ops) RecordAction(ctx context.Context, a domain.AuditEntry) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO ops_audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		a.At, truncate(a.Actor, 200), a.Action, truncate(a.Target, 500), truncate(a.Detail, 2000))
	return translate("record action", err)
}

// Actions implements domain.OpsReader.
func (s *Ops) Actions(ctx context.Context, limit int) ([]domain.AuditEntry, error) {
	var out []domain.AuditEntry
	err := sqlx.SelectContext(ctx, s.DB, &out,
		`SELECT at, actor, action, target, detail FROM ops_audit ORDER BY id DESC LIMIT $1`, clampLimit(limit, 50))
	for i := range out {
		out[i].At = out[i].At.UTC()
	}
	return out, translate("list actions", err)
}

// EventsOf implements domain.OpsReader, over applied_events_by_inbox (00013).
func (s *Ops) EventsOf(ctx context.Context, inboxID int64) ([]domain.NormalizedEvent, error) {
	var rows []struct {
		Type       string         `db:"event_type"`
		Source     string         `db:"source"`
		EventID    string         `db:"event_id"`
		OrderRef   sql.NullString `db:"order_ref"`
		OccurredAt sql.NullTime   `db:"occurred_at"`
		AppliedAt  time.Time      `db:"applied_at"`
		Outcome    string         `db:"outcome"`
		Event      []byte         `db:"event"`
	}
	err := sqlx.SelectContext(ctx, s.DB, &rows, `
		SELECT event_type, source, event_id, order_ref, occurred_at, applied_at, outcome, event FROM applied_events
		WHERE inbox_id = $1 ORDER BY event_id LIMIT 100`, inboxID)
	if err != nil {
		return nil, translate(fmt.Sprintf("events of webhook %d", inboxID), err)
	}
	out := make([]domain.NormalizedEvent, len(rows))
	for i, r := range rows {
		out[i] = domain.NormalizedEvent{AppliedEvent: domain.AppliedEvent{Type: domain.EventType(r.Type), Source: r.Source, EventID: r.EventID,
			OccurredAt: r.OccurredAt.Time.UTC(), AppliedAt: r.AppliedAt.UTC(), Outcome: r.Outcome}, OrderRef: r.OrderRef.String, JSON: string(r.Event)}
	}
	return out, nil
}

// InboxGauge reads the inbox for the metrics: exact counts of the entries not
// applied, by status (few, over inbox_by_status), and "all" from the planner's
// estimate of the table's rows (no scan of a large inbox on every scrape).
func InboxGauge(ctx context.Context, db sqlx.QueryerContext) (map[string]float64, error) {
	var rows []struct {
		Status string  `db:"status"`
		N      float64 `db:"n"`
	}
	err := sqlx.SelectContext(ctx, db, &rows, `
		SELECT s.status, (SELECT count(*) FROM inbox i WHERE i.status = s.status) AS n
		FROM unnest(ARRAY['received', 'failed', 'rejected', 'ignored']) AS s(status)
		UNION ALL
		SELECT 'all', GREATEST(reltuples, 0) FROM pg_class WHERE oid = 'inbox'::regclass`)
	if err != nil {
		return nil, translate("inbox gauge", err)
	}
	out := make(map[string]float64, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

// ActiveReservations implements domain.OpsReader, over reservations_active_by_sku.
func (s *Ops) ActiveReservations(ctx context.Context, sku string, limit int) ([]domain.Reservation, error) {
	var rows []struct {
		ID        string         `db:"id"`
		Quantity  int64          `db:"quantity"`
		OrderRef  sql.NullString `db:"order_ref"`
		ExpiresAt time.Time      `db:"expires_at"`
		CreatedAt time.Time      `db:"created_at"`
	}
	err := sqlx.SelectContext(ctx, s.DB, &rows, `SELECT id, quantity, order_ref, expires_at, created_at FROM reservations
		WHERE sku = $1 AND state = 'active' ORDER BY expires_at LIMIT $2`, sku, clampLimit(limit, 100))
	if err != nil {
		return nil, translate(fmt.Sprintf("reservations of %q", sku), err)
	}
	out := make([]domain.Reservation, len(rows))
	for i, r := range rows {
		out[i] = domain.Reservation{ID: r.ID, SKU: sku, Quantity: r.Quantity, OrderRef: r.OrderRef.String, State: "active",
			ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}
