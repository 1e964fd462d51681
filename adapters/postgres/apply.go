package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// Ledger applies domain events to orders and payments.
type Ledger struct {
	DB *sqlx.DB
}

var _ domain.Applier = (*Ledger)(nil)

// Outcomes recorded in applied_events.
const (
	outcomeApplied = "applied"
	outcomeStale   = "stale"
	// outcomeRecorded marks an event whose effect lives elsewhere (stock, CRM): it is
	// recorded so replays stay no-ops.
	outcomeRecorded = "recorded"
)

// ApplyEntry implements domain.Applier. The inbox row is locked first, so two
// workers holding the same entry serialize and the second finds it applied.
func (l *Ledger) ApplyEntry(ctx context.Context, entryID int64, events []domain.Event) error {
	return inTx(ctx, l.DB, fmt.Sprintf("apply inbox entry %d", entryID), func(tx *sqlx.Tx) error {
		var status string
		if err := tx.GetContext(ctx, &status, `SELECT status FROM inbox WHERE id = $1 FOR UPDATE`, entryID); err != nil {
			return err
		}
		if status == domain.InboxApplied || status == domain.InboxIgnored || status == domain.InboxRejected {
			return nil
		}
		for _, ev := range events {
			if err := applyEvent(ctx, tx, entryID, ev); err != nil {
				return fmt.Errorf("%s %s: %w", ev.Type, ev.EventID, err)
			}
		}
		_, err := tx.ExecContext(ctx,
			`UPDATE inbox SET status = 'applied', applied_at = now(), attempts = attempts + 1, last_error = '' WHERE id = $1`, entryID)
		return err
	})
}

// applyEvent applies one event inside tx, exactly once: the applied_events row is
// inserted first and a conflict means a previous transaction already applied it.
func applyEvent(ctx context.Context, tx *sqlx.Tx, entryID int64, ev domain.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO applied_events (source, event_id, inbox_id, event_type, order_ref, occurred_at, event)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7) ON CONFLICT DO NOTHING`,
		ev.Source, ev.EventID, entryID, string(ev.Type), ev.OrderRef, nullTime(ev.OccurredAt), body)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already applied
	}

	outcome := outcomeApplied
	orderRef := ev.OrderRef
	switch ev.Type {
	case domain.PaymentAuthorized, domain.PaymentSucceeded, domain.PaymentFailed, domain.PaymentRefunded:
		orderRef, err = applyPayment(ctx, tx, ev)
	case domain.DisputeOpened, domain.DisputeClosed:
		orderRef, err = applyDispute(ctx, tx, ev)
	case domain.OrderPlaced, domain.OrderUpdated, domain.OrderCancelled, domain.OrderFulfilled:
		outcome, err = applyOrder(ctx, tx, ev)
	default:
		outcome = outcomeRecorded
	}
	if err != nil {
		return err
	}
	if orderRef != "" {
		if err := recompute(ctx, tx, orderRef); err != nil {
			return err
		}
	}
	if outcome != outcomeApplied || orderRef != ev.OrderRef {
		_, err = tx.ExecContext(ctx,
			`UPDATE applied_events SET outcome = $3, order_ref = NULLIF($4, '') WHERE source = $1 AND event_id = $2`,
			ev.Source, ev.EventID, outcome, orderRef)
	}
	return err
}

// lockOrder returns the order row locked FOR UPDATE, creating a pending placeholder
// when the order is not known yet (a payment that arrived before its order).
func lockOrder(ctx context.Context, tx *sqlx.Tx, ref string) (orderRow, error) {
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO orders (ref, status) VALUES ($1, 'pending') ON CONFLICT (ref) DO NOTHING`, ref); err != nil {
		return orderRow{}, err
	}
	var o orderRow
	err := tx.GetContext(ctx, &o, `SELECT `+orderColumns+` FROM orders WHERE ref = $1 FOR UPDATE`, ref)
	return o, err
}

// applyPayment folds a payment event into its payment row. Amounts only grow and
// refunds are keyed by their own id, so any order of arrival ends the same.
// It returns the order the payment belongs to, if known.
func applyPayment(ctx context.Context, tx *sqlx.Tx, ev domain.Event) (string, error) {
	p := ev.Payment
	if p == nil {
		p = &domain.PaymentChange{}
	}
	orderRef := ev.OrderRef
	if orderRef == "" {
		err := tx.GetContext(ctx, &orderRef, `SELECT COALESCE(order_ref, '') FROM payments WHERE provider = $1 AND ref = $2`, ev.Provider, ev.PaymentRef)
		if err != nil && err != sql.ErrNoRows {
			return "", err
		}
	}
	if orderRef != "" {
		if _, err := lockOrder(ctx, tx, orderRef); err != nil {
			return "", err
		}
	}
	var authorized, captured, refundedTotal int64
	failed, reason := false, ""
	switch ev.Type {
	case domain.PaymentAuthorized:
		authorized = p.Amount
	case domain.PaymentSucceeded:
		captured = p.Amount
	case domain.PaymentFailed:
		failed, reason = true, p.Reason
	case domain.PaymentRefunded:
		if p.RefundRef == "" {
			refundedTotal = p.Amount
		}
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO payments (provider, ref, source, order_ref, currency, authorized, captured, refunded_total, failed, failure_reason)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8, $9, $10)
		ON CONFLICT (provider, ref) DO UPDATE SET
			order_ref      = COALESCE(payments.order_ref, EXCLUDED.order_ref),
			currency       = CASE WHEN payments.currency = '' THEN EXCLUDED.currency ELSE payments.currency END,
			authorized     = GREATEST(payments.authorized, EXCLUDED.authorized),
			captured       = GREATEST(payments.captured, EXCLUDED.captured),
			refunded_total = GREATEST(payments.refunded_total, EXCLUDED.refunded_total),
			failed         = payments.failed OR EXCLUDED.failed,
			failure_reason = GREATEST(payments.failure_reason, EXCLUDED.failure_reason),
			updated_at     = now()`,
		ev.Provider, ev.PaymentRef, ev.Source, orderRef, p.Currency, authorized, captured, refundedTotal, failed, reason)
	if err != nil {
		return "", err
	}
	if ev.Type == domain.PaymentRefunded && p.RefundRef != "" {
		_, err = tx.ExecContext(ctx, `
			INSERT INTO refunds (provider, ref, payment_ref, amount, currency, restock) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (provider, ref) DO NOTHING`,
			ev.Provider, p.RefundRef, ev.PaymentRef, p.Amount, p.Currency, p.Restock)
	}
	return orderRef, err
}

// applyDispute records a dispute's state; closed is terminal.
func applyDispute(ctx context.Context, tx *sqlx.Tx, ev domain.Event) (string, error) {
	d := ev.Dispute
	if d == nil {
		return "", fmt.Errorf("dispute event without dispute")
	}
	payEv := ev
	payEv.Type, payEv.Payment = domain.PaymentAuthorized, &domain.PaymentChange{Currency: d.Currency}
	orderRef, err := applyPayment(ctx, tx, payEv) // make sure the payment row exists
	if err != nil {
		return "", err
	}
	closed := ev.Type == domain.DisputeClosed
	_, err = tx.ExecContext(ctx, `
		INSERT INTO disputes (provider, ref, payment_ref, amount, currency, status, closed) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (provider, ref) DO UPDATE SET
			status     = CASE WHEN EXCLUDED.closed AND NOT disputes.closed THEN EXCLUDED.status ELSE disputes.status END,
			closed     = disputes.closed OR EXCLUDED.closed,
			amount     = GREATEST(disputes.amount, EXCLUDED.amount),
			updated_at = now()`,
		ev.Provider, d.Ref, ev.PaymentRef, d.Amount, d.Currency, d.Status, closed)
	return orderRef, err
}

// applyOrder applies a storefront snapshot when it is newer than the one held;
// an older one changes nothing and is recorded as stale.
func applyOrder(ctx context.Context, tx *sqlx.Tx, ev domain.Event) (string, error) {
	if ev.OrderRef == "" {
		return "", fmt.Errorf("order event without order ref")
	}
	cur, err := lockOrder(ctx, tx, ev.OrderRef)
	if err != nil {
		return "", err
	}
	if cur.SnapshotEvent != "" && !domain.NewerSnapshot(ev.Version, ev.OccurredAt, ev.EventID, cur.Version, cur.SnapshotAt.Time, cur.SnapshotEvent) {
		return outcomeStale, nil
	}
	status := domain.StatusPlaced
	switch ev.Type {
	case domain.OrderCancelled:
		status = domain.StatusCancelled
	case domain.OrderFulfilled:
		status = domain.StatusFulfilled
	}
	if ev.Order == nil {
		// A bare status change: keep what the last snapshot said of money and lines.
		_, err = tx.ExecContext(ctx, `
			UPDATE orders SET status = $2, version = $3, snapshot_at = $4, snapshot_event = $5, updated_at = now() WHERE ref = $1`,
			ev.OrderRef, status, ev.Version, nullTime(ev.OccurredAt), ev.EventID)
		return outcomeApplied, err
	}
	if ev.Order.Status != "" {
		status = ev.Order.Status
	}
	lines, err := json.Marshal(ev.Order.Lines)
	if err != nil {
		return "", err
	}
	_, err = tx.ExecContext(ctx, `
		UPDATE orders SET status = $2, currency = $3, total = $4, lines = $5, version = $6, snapshot_at = $7,
			snapshot_event = $8, updated_at = now()
		WHERE ref = $1`,
		ev.OrderRef, status, ev.Order.Currency, ev.Order.Total, lines, ev.Version, nullTime(ev.OccurredAt), ev.EventID)
	return outcomeApplied, err
}

// recompute derives an order's payment status from all its payments.
func recompute(ctx context.Context, tx *sqlx.Tx, orderRef string) error {
	var t struct {
		Authorized int64  `db:"authorized"`
		Captured   int64  `db:"captured"`
		Refunded   int64  `db:"refunded"`
		Disputed   bool   `db:"disputed"`
		Total      int64  `db:"total"`
		Currency   string `db:"currency"`
	}
	err := tx.GetContext(ctx, &t, `
		SELECT
			COALESCE(SUM(p.authorized), 0) AS authorized,
			COALESCE(SUM(p.captured), 0)   AS captured,
			COALESCE(SUM(GREATEST(p.refunded_total,
				(SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.provider = p.provider AND r.payment_ref = p.ref))), 0) AS refunded,
			EXISTS (SELECT 1 FROM disputes d JOIN payments dp ON dp.provider = d.provider AND dp.ref = d.payment_ref
				WHERE dp.order_ref = $1 AND NOT d.closed) AS disputed,
			(SELECT total FROM orders WHERE ref = $1) AS total,
			COALESCE(MIN(NULLIF(p.currency, '')), '') AS currency
		FROM payments p WHERE p.order_ref = $1`, orderRef)
	if err != nil {
		return err
	}
	status := domain.DerivePaymentStatus(t.Total, domain.PaymentTotals{
		Authorized: t.Authorized, Captured: t.Captured, Refunded: t.Refunded, Disputed: t.Disputed,
	})
	// An order known only from its payments shows their currency until the storefront speaks.
	_, err = tx.ExecContext(ctx, `
		UPDATE orders SET payment_status = $2, updated_at = now(),
			currency = CASE WHEN currency = '' THEN $3 ELSE currency END
		WHERE ref = $1`, orderRef, status, t.Currency)
	return err
}

type orderRow struct {
	Ref           string       `db:"ref"`
	Status        string       `db:"status"`
	PaymentStatus string       `db:"payment_status"`
	Currency      string       `db:"currency"`
	Total         int64        `db:"total"`
	Lines         []byte       `db:"lines"`
	Version       int64        `db:"version"`
	SnapshotAt    sql.NullTime `db:"snapshot_at"`
	SnapshotEvent string       `db:"snapshot_event"`
	CreatedAt     time.Time    `db:"created_at"`
	UpdatedAt     time.Time    `db:"updated_at"`
}

const orderColumns = `ref, status, payment_status, currency, total, lines, version, snapshot_at, snapshot_event, created_at, updated_at`
