package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// Ledger applies domain events to orders, payments, stock and customers.
type Ledger struct {
	DB *sqlx.DB
	// OversellPolicy says what happens to an order that wants stock that is not
	// there: "backorder" (the default) keeps it waiting for stock, "cancel" cancels
	// it in Tradewind. Either way a conflict is recorded.
	OversellPolicy string
	// Grace is how long a conflict that can be an artefact of arrival order waits
	// before it is shown (see domain.DecideConflicts); 0 shows it at once.
	Grace time.Duration
	// Now is the clock (time.Now when nil), read once per transaction.
	Now func() time.Time
	// Destinations get a delivery row for each decision they want, in the
	// decision's transaction (see deliveries.go); none: nothing is written.
	Destinations []domain.Destination

	// OnBatchFallback, when set, hears of each shared transaction of
	// ApplyEntries that failed as a whole, and how its entries are applied next:
	// "savepoints" (one transaction, an entry's failure undone alone) or
	// "singles" (a transaction each). A metrics and logging hook.
	OnBatchFallback func(entries int, next string, err error)

	stmts statements // the apply path's statements, prepared once per connection
}

// Oversell policies.
const (
	OversellBackorder = domain.OversellBackorder
	OversellCancel    = domain.OversellCancel
)

// now reads the clock once for a transaction, to the microsecond PostgreSQL keeps,
// so what is decided from it and what is stored agree.
func (l *Ledger) now() time.Time {
	if l.Now == nil {
		return time.Now().Truncate(time.Microsecond)
	}
	return l.Now().Truncate(time.Microsecond)
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

// ApplyEntry implements domain.Applier. The inbox row is claimed first (marked
// applied, which locks it), so two workers holding the same entry serialize and
// the second finds it applied; a failure rolls the claim back with the rest.
// Returns ENOTFOUND if the entry does not exist.
//
// A transaction that loses a deadlock or a serialization check runs again at once
// (a few times), rather than failing its task into Asynq's backoff.
func (l *Ledger) ApplyEntry(ctx context.Context, entryID int64, events []domain.Event) error {
	return retrying(func() error { return l.applyEntry(ctx, entryID, events) })
}

// retrying runs fn again, up to applyRetries times in all, while it fails with a
// deadlock or a serialization failure (retryable), and returns its last error.
func retrying(fn func() error) error {
	var err error
	for range applyRetries {
		if err = fn(); !retryable(err) {
			return err
		}
	}
	return err
}

// inLedgerTx runs fn in a transaction of its own, with the ledger's prepared
// statements and one clock reading.
func (l *Ledger) inLedgerTx(ctx context.Context, op string, fn func(tx *ltx) error) error {
	return inTx(ctx, l.DB, op, func(sqlTx *sqlx.Tx) error {
		return fn(&ltx{Tx: sqlTx, db: l.DB, cache: &l.stmts, now: l.now()})
	})
}

func (l *Ledger) applyEntry(ctx context.Context, entryID int64, events []domain.Event) error {
	if refs, ok := batchRefs(events); ok && len(refs) > 0 {
		// An entry whose orders are known takes its locks as a batch does (orders
		// by ref, then their SKUs, before any applied_events row): the one order
		// every apply transaction takes its locks in, so a single entry and a
		// batch never wait on each other in a circle.
		errs := make([]error, 1)
		if err := l.applyBatch(ctx, []domain.EntryEvents{{ID: entryID, Events: events}}, []int{0}, errs); err != nil {
			return fmt.Errorf("apply inbox entry %d: %w", entryID, errors.Unwrap(err))
		}
		return errs[0]
	}
	var busy []busyOrder
	err := l.inLedgerTx(ctx, fmt.Sprintf("apply inbox entry %d", entryID), func(tx *ltx) error {
		claimed, err := claimEntry(ctx, tx, entryID)
		if err != nil || !claimed {
			return err
		}
		for _, ev := range events {
			if err := l.applyEvent(ctx, tx, entryID, ev); err != nil {
				return fmt.Errorf("%s %s: %w", ev.Type, ev.EventID, err)
			}
		}
		busy = tx.busy
		return nil
	})
	if err != nil {
		return err
	}
	return l.settleBusy(ctx, busy)
}

// claimEntry marks an inbox entry applied inside tx, before its events are applied:
// one statement that both locks the row and records the outcome the transaction
// commits with. It reports false when the entry is applied, ignored or rejected
// already (a concurrent claim waits for the holder's commit, then finds it so), and
// sql.ErrNoRows when there is no such entry.
func claimEntry(ctx context.Context, tx *ltx, entryID int64) (bool, error) {
	var id int64
	err := tx.GetContext(ctx, &id, `
		UPDATE inbox SET status = 'applied', applied_at = $2, last_error = ''
		WHERE id = $1 AND status NOT IN ('applied', 'ignored', 'rejected') RETURNING id`, entryID, tx.now)
	if err == sql.ErrNoRows {
		return false, tx.GetContext(ctx, &id, `SELECT id FROM inbox WHERE id = $1`, entryID)
	}
	return err == nil, err
}

// applyEvent applies one event inside tx, exactly once: the applied_events row is
// inserted first and a conflict means a previous transaction already applied it.
func (l *Ledger) applyEvent(ctx context.Context, tx *ltx, entryID int64, ev domain.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO applied_events (source, event_id, inbox_id, event_type, order_ref, occurred_at, event)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7) ON CONFLICT DO NOTHING`,
		ev.Source, ev.EventID, entryID, string(ev.Type), ev.OrderRef, nullTime(ev.OccurredAt), string(body))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already applied
	}

	outcome := outcomeApplied
	orderRef := ev.OrderRef
	switch ev.Type {
	case domain.PaymentAuthorized, domain.PaymentSucceeded, domain.PaymentFailed, domain.PaymentRefunded, domain.RefundFailed:
		orderRef, err = applyPayment(ctx, tx, ev)
	case domain.DisputeOpened, domain.DisputeClosed:
		orderRef, err = applyDispute(ctx, tx, ev)
	case domain.OrderPlaced, domain.OrderUpdated, domain.OrderCancelled, domain.OrderFulfilled:
		outcome, err = applyOrder(ctx, tx, ev)
	case domain.InventoryLevelSet:
		outcome, err = l.applyStockLevel(ctx, tx, ev)
	case domain.CustomerUpserted:
		outcome, err = applyCustomer(ctx, tx, ev)
	default:
		outcome = outcomeRecorded
	}
	if err != nil {
		return err
	}
	if orderRef != "" {
		if err := l.settle(ctx, tx, orderRef, ev); err != nil {
			return err
		}
	}
	if err := l.writeEventDeliveries(ctx, tx, ev, outcome); err != nil {
		return err
	}
	if outcome != outcomeApplied || orderRef != ev.OrderRef {
		_, err = tx.ExecContext(ctx,
			`UPDATE applied_events SET outcome = $3, order_ref = NULLIF($4, '') WHERE source = $1 AND event_id = $2`,
			ev.Source, ev.EventID, outcome, orderRef)
	}
	return err
}

// lockOrder returns the order row locked, creating a pending placeholder when the
// order is not known yet (a payment that arrived before its order). The no-op
// update on conflict takes the row lock and returns the row in the same statement.
func lockOrder(ctx context.Context, tx *ltx, ref string) (orderRow, error) {
	var o orderRow
	err := tx.GetContext(ctx, &o, `INSERT INTO orders (ref, status) VALUES ($1, 'pending')
		ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref RETURNING `+orderColumns, ref)
	return o, err
}

// applyPayment folds a payment event into its payment row. Amounts only grow and
// refunds are keyed by their own id, so any order of arrival ends the same.
// It returns the order the payment belongs to, if known.
func applyPayment(ctx context.Context, tx *ltx, ev domain.Event) (string, error) {
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
	if orderRef != "" && !tx.locked[orderRef] {
		if _, err := lockOrder(ctx, tx, orderRef); err != nil {
			return "", err
		}
	}
	f := foldPayment(ev.Type, p)
	var owner string
	err := tx.GetContext(ctx, &owner, `
		INSERT INTO payments (provider, ref, source, order_ref, currency, authorized, captured, refunded_total, failed, failure_reason)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8, $9, $10)
		`+paymentUpsert+`
		RETURNING COALESCE(order_ref, '')`,
		ev.Provider, ev.PaymentRef, ev.Source, orderRef, p.Currency, f.authorized, f.captured, f.refundedTotal, f.failed, f.reason, tx.now)
	if err != nil {
		return "", err
	}
	if orderRef == "" && owner != "" {
		// The payment's order committed while this event waited for the payment row: the
		// order was settled without this fact, so settle it again here.
		if _, err := lockOrder(ctx, tx, owner); err != nil {
			return "", err
		}
		orderRef = owner
	}
	if (ev.Type == domain.PaymentRefunded || ev.Type == domain.RefundFailed) && p.RefundRef != "" {
		err = saveRefund(ctx, tx, ev)
	}
	return orderRef, err
}

// paymentFold is what one payment event adds to its payment row's columns.
type paymentFold struct {
	authorized, captured, refundedTotal int64
	failed                              bool
	reason                              string
}

// foldPayment returns what an event of type t with change p adds to its payment
// row; paymentUpsert folds it into the row held, so any order of arrival ends
// the same (amounts only grow, failed stays failed).
func foldPayment(t domain.EventType, p *domain.PaymentChange) paymentFold {
	switch t {
	case domain.PaymentAuthorized:
		return paymentFold{authorized: p.Amount}
	case domain.PaymentSucceeded:
		return paymentFold{captured: p.Amount}
	case domain.PaymentFailed:
		return paymentFold{failed: true, reason: p.Reason}
	case domain.PaymentRefunded:
		if p.RefundRef == "" { // a refund with its own id is a refunds row (saveRefund)
			return paymentFold{refundedTotal: p.Amount}
		}
	}
	return paymentFold{}
}

// paymentUpsert folds a new payments row (EXCLUDED; $11 is the clock) into the
// row held, by foldPayment's rules.
const paymentUpsert = `ON CONFLICT (provider, ref) DO UPDATE SET
		order_ref      = COALESCE(payments.order_ref, EXCLUDED.order_ref),
		currency       = CASE WHEN payments.currency = '' THEN EXCLUDED.currency ELSE payments.currency END,
		authorized     = GREATEST(payments.authorized, EXCLUDED.authorized),
		captured       = GREATEST(payments.captured, EXCLUDED.captured),
		refunded_total = GREATEST(payments.refunded_total, EXCLUDED.refunded_total),
		failed         = payments.failed OR EXCLUDED.failed,
		failure_reason = GREATEST(payments.failure_reason, EXCLUDED.failure_reason),
		updated_at     = $11`

// saveRefund folds one fact about a refund into its row, keyed by the refund's id:
// the amount only grows, failed stays failed, restock only turns on, and the lines
// it restocked are those of the first event that names any. A failure that arrives
// before its refund leaves a failed row the refund then joins.
func saveRefund(ctx context.Context, tx *ltx, ev domain.Event) error {
	p := ev.Payment
	lines := []byte("[]")
	if len(p.RestockLines) > 0 {
		var err error
		if lines, err = json.Marshal(p.RestockLines); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO refunds (provider, ref, payment_ref, amount, currency, restock, failed, restock_lines)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (provider, ref) DO UPDATE SET
			amount        = GREATEST(refunds.amount, EXCLUDED.amount),
			currency      = CASE WHEN refunds.currency = '' THEN EXCLUDED.currency ELSE refunds.currency END,
			restock       = refunds.restock OR EXCLUDED.restock,
			failed        = refunds.failed OR EXCLUDED.failed,
			restock_lines = CASE WHEN refunds.restock_lines = '[]' THEN EXCLUDED.restock_lines ELSE refunds.restock_lines END`,
		ev.Provider, p.RefundRef, ev.PaymentRef, p.Amount, p.Currency, p.Restock, ev.Type == domain.RefundFailed, string(lines))
	return err
}

// applyDispute records a dispute's state; closed is terminal.
func applyDispute(ctx context.Context, tx *ltx, ev domain.Event) (string, error) {
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
	dd := *d
	if dd.Outcome == "" { // an adapter that states no outcome: closed says won, as before
		dd.Outcome, dd.Stage = domain.DisputeOpen, 1
		if ev.Type == domain.DisputeClosed {
			dd.Outcome, dd.Stage = domain.DisputeWon, 3
			if d.Status == domain.DisputeLost {
				dd.Outcome = domain.DisputeLost
			}
		}
	}
	// The fact of the highest rank stands (domain.DisputeRank; ties by status, bytewise).
	_, err = tx.ExecContext(ctx, `
		INSERT INTO disputes (provider, ref, payment_ref, amount, currency, status, closed, outcome, rank)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (provider, ref) DO UPDATE SET
			status     = CASE WHEN (EXCLUDED.rank, EXCLUDED.status COLLATE "C") > (disputes.rank, disputes.status COLLATE "C") THEN EXCLUDED.status ELSE disputes.status END,
			closed     = CASE WHEN (EXCLUDED.rank, EXCLUDED.status COLLATE "C") > (disputes.rank, disputes.status COLLATE "C") THEN EXCLUDED.closed ELSE disputes.closed END,
			outcome    = CASE WHEN (EXCLUDED.rank, EXCLUDED.status COLLATE "C") > (disputes.rank, disputes.status COLLATE "C") THEN EXCLUDED.outcome ELSE disputes.outcome END,
			rank       = GREATEST(disputes.rank, EXCLUDED.rank),
			amount     = GREATEST(disputes.amount, EXCLUDED.amount),
			updated_at = $10`,
		ev.Provider, dd.Ref, ev.PaymentRef, dd.Amount, dd.Currency, dd.Status, dd.Closed(), dd.Outcome, domain.DisputeRank(dd), tx.now)
	return orderRef, err
}

// applyOrder applies a storefront snapshot when it is newer than the one held;
// an older one changes nothing and is recorded as stale.
func applyOrder(ctx context.Context, tx *ltx, ev domain.Event) (string, error) {
	if ev.OrderRef == "" {
		return "", fmt.Errorf("order event without order ref")
	}
	cur, err := lockOrder(ctx, tx, ev.OrderRef)
	if err != nil {
		return "", err
	}
	next, newer, err := nextSnapshot(cur, ev, tx.now)
	if err != nil {
		return "", err
	}
	if !newer {
		return outcomeStale, nil
	}
	return outcomeApplied, saveSnapshots(ctx, tx, map[string]orderRow{ev.OrderRef: next}, map[string]bool{ev.OrderRef: true})
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
	LocalStatus   string       `db:"local_status"`
	CreatedAt     time.Time    `db:"created_at"`
	UpdatedAt     time.Time    `db:"updated_at"`
}

// status is the order's effective status: Tradewind's own decision (an oversold
// order cancelled by policy) overrides the storefront's.
func (o orderRow) status() domain.OrderStatus {
	if o.LocalStatus != "" {
		return domain.OrderStatus(o.LocalStatus)
	}
	return domain.OrderStatus(o.Status)
}

const orderColumns = `ref, status, payment_status, currency, total, lines, version, snapshot_at, snapshot_event, local_status, created_at, updated_at`

// applyStockLevel applies a storefront's absolute stock level as of its own time.
func (l *Ledger) applyStockLevel(ctx context.Context, tx *ltx, ev domain.Event) (string, error) {
	if ev.Stock == nil || ev.Stock.SKU == "" {
		return "", fmt.Errorf("stock event without SKU")
	}
	return l.setStock(ctx, tx, ev.Stock.SKU, ev.Stock.OnHand, domain.LevelStamp{At: ev.OccurredAt}, domain.StockStorefrontSet, ev)
}

// setStock sets a SKU's level as of ev's time and then gives orders backordered on
// the SKU another chance at it. Those orders are locked before the SKU, the same
// order every other path takes; and every SKU their settling may move is locked
// with this one, in SKU order, before any is moved, as allocate takes an order's
// SKUs: so neither an order's transaction nor another level's can wait on this one
// while it waits on them.
func (l *Ledger) setStock(ctx context.Context, tx *ltx, sku string, level int64, stamp domain.LevelStamp, cause string, ev domain.Event) (string, error) {
	var waiting []string
	if err := tx.SelectContext(ctx, &waiting,
		`SELECT order_ref FROM allocations WHERE sku = $1 AND state = 'backordered' ORDER BY order_ref`, sku); err != nil {
		return "", err
	}
	if err := lockWithSKUs(ctx, tx, waiting, sku); err != nil {
		return "", err
	}
	stale, err := setLevel(ctx, tx, sku, level, stamp, cause, ev.Source, ev.EventID)
	if err != nil {
		return "", err
	}
	if stale {
		return outcomeStale, nil
	}
	// Orders backordered while this transaction waited for the SKU (no order can
	// be backordered on it while this one holds it): those no one else holds are
	// settled here. One that another transaction holds cannot be waited for (that
	// one may be waiting for this SKU), and it may not settle the order itself (a
	// duplicate settles nothing): it is settled after this commits (settleBusy).
	// waiting goes as '{}', never NULL: "<> ALL (NULL)" is NULL, and no order
	// would be late.
	var late, free []string
	if err := tx.SelectContext(ctx, &late, `
		SELECT DISTINCT order_ref FROM allocations WHERE sku = $1 AND state = 'backordered'
			AND order_ref <> ALL($2::text[]) ORDER BY order_ref`, sku, pq.StringArray(append([]string{}, waiting...))); err != nil {
		return "", err
	}
	if len(late) > 0 {
		if err := tx.SelectContext(ctx, &free, `SELECT ref FROM orders WHERE ref = ANY($1) ORDER BY ref FOR UPDATE SKIP LOCKED`,
			pq.StringArray(late)); err != nil {
			return "", err
		}
		for _, ref := range late {
			if !slices.Contains(free, ref) {
				tx.busy = append(tx.busy, busyOrder{ref: ref, sku: sku, ev: ev})
			}
		}
	}
	for _, ref := range append(waiting, free...) {
		if err := l.settle(ctx, tx, ref, ev); err != nil {
			return "", err
		}
	}
	return outcomeApplied, nil
}

// lockWithSKUs locks the orders of refs (sorted), then sku with every SKU those
// orders' settling may move — their lines, allocations and active checkout
// reservations — in SKU order, as allocate takes an order's SKUs.
func lockWithSKUs(ctx context.Context, tx *ltx, refs []string, sku string) error {
	for _, ref := range refs {
		if _, err := lockOrder(ctx, tx, ref); err != nil {
			return err
		}
	}
	skus := []string{sku}
	if len(refs) > 0 {
		if err := tx.SelectContext(ctx, &skus, `
			SELECT sku FROM allocations WHERE order_ref = ANY($1)
			UNION SELECT sku FROM reservations WHERE order_ref = ANY($1) AND state = 'active' AND expires_at > $3
			UNION SELECT ln->>'sku' FROM orders o, jsonb_array_elements(o.lines) ln
				WHERE o.ref = ANY($1) AND ln->>'sku' <> '' AND (ln->>'quantity')::bigint > 0
			UNION SELECT $2::text`, pq.StringArray(refs), sku, tx.now); err != nil {
			return err
		}
		sort.Strings(skus) // allocate's order (bytes), not the database's collation
	}
	for _, s := range skus {
		if _, err := lockSKU(ctx, tx, s); err != nil {
			return err
		}
	}
	return nil
}

// busyOrder is an order a stock level could not settle because another
// transaction held it: it is settled once the level has committed.
type busyOrder struct {
	ref, sku string
	ev       domain.Event // the level's event
}

// settleBusy settles each order a committed level left to it, each in a
// transaction of its own that first waits for the order's holder. Settling is
// idempotent: an order its holder settled already is left as it is.
func (l *Ledger) settleBusy(ctx context.Context, busy []busyOrder) error {
	for _, b := range busy {
		err := retrying(func() error {
			return l.inLedgerTx(ctx, "settle order "+b.ref, func(tx *ltx) error {
				if err := lockWithSKUs(ctx, tx, []string{b.ref}, b.sku); err != nil {
					return err
				}
				return l.settle(ctx, tx, b.ref, b.ev)
			})
		})
		if err != nil {
			return fmt.Errorf("stock level %s applied; settling order %q it let through: %w", b.ev.EventID, b.ref, err)
		}
	}
	return nil
}

// applyCustomer upserts a customer when the snapshot is newer than the one held.
func applyCustomer(ctx context.Context, tx *ltx, ev domain.Event) (string, error) {
	if ev.Customer == nil || ev.CustomerRef == "" {
		return "", fmt.Errorf("customer event without customer")
	}
	version := ev.Version
	if version == 0 {
		version = ev.OccurredAt.UnixMilli()
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO customers (ref, source, email, first_name, last_name, version) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (ref) DO UPDATE SET source = EXCLUDED.source, email = EXCLUDED.email, first_name = EXCLUDED.first_name,
			last_name = EXCLUDED.last_name, version = EXCLUDED.version, updated_at = $7
		WHERE customers.version < EXCLUDED.version`,
		ev.CustomerRef, ev.Source, ev.Customer.Email, ev.Customer.FirstName, ev.Customer.LastName, version, tx.now)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return outcomeStale, nil
	}
	return outcomeApplied, nil
}
