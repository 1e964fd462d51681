package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// Reconciliations keeps reconciliation reports.
type Reconciliations struct {
	DB  sqlx.ExtContext
	Now func() time.Time // time.Now when nil
}

var _ domain.ReconciliationStore = (*Reconciliations)(nil)

func (s *Reconciliations) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

type reconRow struct {
	ID              int64          `db:"id"`
	Status          string         `db:"status"`
	Since           time.Time      `db:"since"`
	Until           time.Time      `db:"until"`
	DryRun          bool           `db:"dry_run"`
	Requested       pq.StringArray `db:"requested_sources"`
	Sources         []byte         `db:"sources"`
	StockDriftFixed int            `db:"stock_drift_fixed"`
	Error           string         `db:"error"`
	StartedAt       time.Time      `db:"started_at"`
	FinishedAt      sql.NullTime   `db:"finished_at"`
}

const reconColumns = `id, status, since, until, dry_run, requested_sources, sources, stock_drift_fixed, error, started_at, finished_at`

func (r reconRow) report() (domain.Reconciliation, error) {
	out := domain.Reconciliation{ID: r.ID, Status: r.Status, Since: r.Since.UTC(), Until: r.Until.UTC(), DryRun: r.DryRun,
		Requested: []string(r.Requested), StockDriftFixed: r.StockDriftFixed, Error: r.Error, StartedAt: r.StartedAt.UTC()}
	if r.FinishedAt.Valid {
		t := r.FinishedAt.Time.UTC()
		out.FinishedAt = &t
	}
	if err := decodeReports(r.Sources, &out); err != nil {
		return out, fmt.Errorf("reconciliation %d sources: %w", r.ID, err)
	}
	if out.Sources == nil {
		out.Sources = []domain.SourceReport{}
	}
	if out.StorefrontStock == nil {
		out.StorefrontStock = []domain.StorefrontStockReport{}
	}
	return out, nil
}

// storedReports is the sources column of a report with storefront stock: the
// per-source reports and the per-destination ones. A report stored before
// storefront stock was compared holds the per-source array alone.
type storedReports struct {
	Sources         []domain.SourceReport          `json:"sources"`
	StorefrontStock []domain.StorefrontStockReport `json:"storefront_stock"`
}

func encodeReports(r domain.Reconciliation) ([]byte, error) {
	sources := r.Sources
	if sources == nil {
		sources = []domain.SourceReport{}
	}
	if len(r.StorefrontStock) == 0 {
		return json.Marshal(sources)
	}
	return json.Marshal(storedReports{Sources: sources, StorefrontStock: r.StorefrontStock})
}

func decodeReports(b []byte, out *domain.Reconciliation) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var s storedReports
		if err := json.Unmarshal(t, &s); err != nil {
			return err
		}
		out.Sources, out.StorefrontStock = s.Sources, s.StorefrontStock
		return nil
	}
	return json.Unmarshal(b, &out.Sources)
}

// Create implements domain.ReconciliationStore.
func (s *Reconciliations) Create(ctx context.Context, r domain.Reconciliation) (domain.Reconciliation, error) {
	var row reconRow
	requested := r.Requested
	if requested == nil {
		requested = []string{}
	}
	err := sqlx.GetContext(ctx, s.DB, &row, `
		INSERT INTO reconciliations (status, since, until, dry_run, requested_sources, started_at, task_key)
		VALUES ('running', $1, $2, $3, $4, $5, NULLIF($6, ''))
		ON CONFLICT (task_key) DO UPDATE SET task_key = EXCLUDED.task_key
		RETURNING `+reconColumns,
		r.Since, r.Until, r.DryRun, pq.StringArray(requested), s.now(), r.TaskKey)
	if err != nil {
		return r, translate("create reconciliation", err)
	}
	return row.report()
}

// Save implements domain.ReconciliationStore.
func (s *Reconciliations) Save(ctx context.Context, r domain.Reconciliation) error {
	b, err := encodeReports(r)
	if err != nil {
		return err
	}
	var finished sql.NullTime
	if r.FinishedAt != nil {
		finished = sql.NullTime{Time: *r.FinishedAt, Valid: true}
	}
	res, err := s.DB.ExecContext(ctx, `
		UPDATE reconciliations SET status = $2, sources = $3, stock_drift_fixed = $4, error = $5, finished_at = $6 WHERE id = $1`,
		r.ID, r.Status, string(b), r.StockDriftFixed, truncate(r.Error, 2000), finished)
	if err != nil {
		return translate(fmt.Sprintf("save reconciliation %d", r.ID), err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.ENOTFOUND, "no reconciliation %d", r.ID)
	}
	return nil
}

// Get implements domain.ReconciliationStore.
func (s *Reconciliations) Get(ctx context.Context, id int64) (domain.Reconciliation, error) {
	var row reconRow
	if err := sqlx.GetContext(ctx, s.DB, &row, `SELECT `+reconColumns+` FROM reconciliations WHERE id = $1`, id); err != nil {
		return domain.Reconciliation{}, translate(fmt.Sprintf("reconciliation %d", id), err)
	}
	return row.report()
}

// List implements domain.ReconciliationStore.
func (s *Reconciliations) List(ctx context.Context, limit int) ([]domain.Reconciliation, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var rows []reconRow
	if err := sqlx.SelectContext(ctx, s.DB, &rows, `SELECT `+reconColumns+` FROM reconciliations ORDER BY id DESC LIMIT $1`, limit); err != nil {
		return nil, translate("list reconciliations", err)
	}
	out := make([]domain.Reconciliation, 0, len(rows))
	for _, r := range rows {
		rep, err := r.report()
		if err != nil {
			return nil, err
		}
		out = append(out, rep)
	}
	return out, nil
}

type heldEntryRow struct {
	ID         int64     `db:"id"`
	EventID    string    `db:"event_id"`
	EventType  string    `db:"event_type"`
	OccurredAt time.Time `db:"occurred_at"`
	Status     string    `db:"status"`
	OrderRef   string    `db:"order_ref"`
}

type heldPaymentRow struct {
	Ref        string `db:"ref"`
	OrderRef   string `db:"order_ref"`
	Currency   string `db:"currency"`
	Authorized int64  `db:"authorized"`
	Captured   int64  `db:"captured"`
	Refunded   int64  `db:"refunded"`
	Failed     bool   `db:"failed"`
}

// ReconcileStore is what the reconciliation reads and writes: entries and
// payments to compare, missing messages to store, conflicts, stock counters.
type ReconcileStore struct {
	DB *sqlx.DB
	// PageSize is the keyset page (1000 when 0).
	PageSize int
	Now      func() time.Time
}

var _ domain.ReconcileStore = (*ReconcileStore)(nil)

func (s *ReconcileStore) now() time.Time {
	if s.Now == nil {
		return time.Now().Truncate(time.Microsecond)
	}
	return s.Now().Truncate(time.Microsecond)
}

// Entries walks source's entries of the given types whose provider time is in
// [since, until], newest first and then by event id: the order of a Stripe
// listing (with ties by id). A keyset cursor reads a page at a time; entries the
// reconciliation made up itself (event ids "reconciliation:…") are left out,
// the provider never lists them.
func (s *ReconcileStore) Entries(ctx context.Context, source string, since, until time.Time, types []string) iter.Seq2[domain.HeldEntry, error] {
	size := s.PageSize
	if size <= 0 {
		size = 1000
	}
	return func(yield func(domain.HeldEntry, error) bool) {
		first, at, after := true, until, ""
		for {
			var page []heldEntryRow
			err := sqlx.SelectContext(ctx, s.DB, &page, `
				SELECT i.id, i.event_id, i.event_type, i.occurred_at, i.status,
					COALESCE((SELECT order_ref FROM applied_events a WHERE a.inbox_id = i.id AND a.order_ref IS NOT NULL LIMIT 1), '') AS order_ref
				FROM inbox i
				WHERE i.source = $1 AND i.occurred_at >= $2 AND i.occurred_at <= $3 AND i.event_type = ANY($4)
					AND NOT (i.origin = 'reconciliation' AND i.event_id LIKE 'reconciliation:%')
					AND ($5 OR i.occurred_at < $6 OR (i.occurred_at = $6 AND i.event_id > $7))
				ORDER BY i.occurred_at DESC, i.event_id ASC LIMIT $8`,
				source, since, until, pq.StringArray(types), first, at, after, size)
			if err != nil {
				yield(domain.HeldEntry{}, translate("reconcile: list inbox entries", err))
				return
			}
			for _, e := range page {
				if !yield(domain.HeldEntry{ID: e.ID, EventID: e.EventID, EventType: e.EventType, OccurredAt: e.OccurredAt.UTC(),
					Status: e.Status, OrderRef: e.OrderRef}, nil) {
					return
				}
			}
			if len(page) < size {
				return
			}
			last := page[len(page)-1]
			first, at, after = false, last.OccurredAt, last.EventID
		}
	}
}

// Payments returns provider's payments with the given refs, in ref order
// (bytes, as Go sorts). Refunded is the larger of the reported running total and
// the sum of refunds by id, as an order's settlement counts it.
func (s *ReconcileStore) Payments(ctx context.Context, provider string, refs []string) ([]domain.HeldPayment, error) {
	var rows []heldPaymentRow
	err := sqlx.SelectContext(ctx, s.DB, &rows, `
		SELECT p.ref, COALESCE(p.order_ref, '') AS order_ref, p.currency, p.authorized, p.captured, p.failed,
			GREATEST(p.refunded_total, (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.provider = p.provider AND r.payment_ref = p.ref)) AS refunded
		FROM payments p WHERE p.provider = $1 AND p.ref = ANY($2) ORDER BY p.ref COLLATE "C"`, provider, pq.StringArray(refs))
	if err != nil {
		return nil, translate("reconcile: read payments", err)
	}
	out := make([]domain.HeldPayment, len(rows))
	for i, r := range rows {
		out[i] = domain.HeldPayment(r)
	}
	return out, nil
}

// InsertReconciled stores a message fetched from the provider's API as an inbox
// entry of origin reconciliation, received (to be applied by the apply path).
// New is false when the (source, event id) is stored already: a webhook brought
// it meanwhile, and that entry stands.
func (s *ReconcileStore) InsertReconciled(ctx context.Context, e domain.InboxEntry) (domain.InsertResult, error) {
	var id int64
	err := s.DB.GetContext(ctx, &id, `
		INSERT INTO inbox (source, provider, event_id, event_type, headers, body, occurred_at, received_at, status, origin)
		VALUES ($1, $2, $3, $4, '{}', $5, $6, $7, 'received', 'reconciliation')
		ON CONFLICT (source, event_id) DO NOTHING RETURNING id`,
		e.Source, e.Provider, e.EventID, e.EventType, e.Body, nullTime(e.OccurredAt), s.now())
	if err == sql.ErrNoRows {
		err = s.DB.GetContext(ctx, &id, `SELECT id FROM inbox WHERE source = $1 AND event_id = $2`, e.Source, e.EventID)
		return domain.InsertResult{ID: id}, translate("reconcile: find inbox entry", err)
	}
	if err != nil {
		return domain.InsertResult{}, translate("reconcile: store fetched message", err)
	}
	return domain.InsertResult{ID: id, New: true}, nil
}

// RecordConflict records a conflict the reconciliation found (a person's
// resolution of the same conflict stands). It reports whether the conflict is
// new or was not open before.
func (s *ReconcileStore) RecordConflict(ctx context.Context, orderRef string, ch domain.ConflictChange) error {
	return translate("reconcile: record conflict", upsertConflict(ctx, s.DB, orderRef, ch, s.now()))
}

// StockDrift returns the SKUs whose counters differ from the sums of their
// ledger, in SKU order.
func (s *ReconcileStore) StockDrift(ctx context.Context) ([]domain.StockDrift, error) {
	var rows []struct {
		SKU          string `db:"sku"`
		OnHand       int64  `db:"on_hand"`
		Reserved     int64  `db:"reserved"`
		LedgerOnHand int64  `db:"ledger_on_hand"`
		LedgerRs     int64  `db:"ledger_reserved"`
	}
	err := sqlx.SelectContext(ctx, s.DB, &rows, `
		SELECT i.sku, i.on_hand, i.reserved, COALESCE(l.on_hand, 0) AS ledger_on_hand, COALESCE(l.reserved, 0) AS ledger_reserved
		FROM inventory i LEFT JOIN (
			SELECT sku, SUM(delta_on_hand) AS on_hand, SUM(delta_reserved) AS reserved FROM stock_ledger GROUP BY sku) l ON l.sku = i.sku
		WHERE i.on_hand <> COALESCE(l.on_hand, 0) OR i.reserved <> COALESCE(l.reserved, 0)
		ORDER BY i.sku`)
	if err != nil {
		return nil, translate("reconcile: stock drift", err)
	}
	out := make([]domain.StockDrift, len(rows))
	for i, r := range rows {
		out[i] = domain.StockDrift{SKU: r.SKU, OnHand: r.OnHand, Reserved: r.Reserved, LedgerOnHand: r.LedgerOnHand, LedgerRs: r.LedgerRs}
	}
	return out, nil
}

// FixDrift sets a SKU's counters to the sums of its ledger, with the SKU locked
// (every ledger row is written under that lock, so the sums and the counters are
// read at one point). It reports whether it changed anything: the drift may have
// been set right meanwhile, or the ledger's sums may not be valid counters.
func (s *ReconcileStore) FixDrift(ctx context.Context, sku string) (bool, error) {
	fixed := false
	err := inTx(ctx, s.DB, "reconcile: fix stock drift of "+sku, func(tx *sqlx.Tx) error {
		var d domain.StockDrift
		if err := tx.GetContext(ctx, &d, `
			SELECT i.sku AS "sku", i.on_hand AS "onhand", i.reserved AS "reserved",
				(SELECT COALESCE(SUM(delta_on_hand), 0) FROM stock_ledger WHERE sku = i.sku) AS "ledgeronhand",
				(SELECT COALESCE(SUM(delta_reserved), 0) FROM stock_ledger WHERE sku = i.sku) AS "ledgerrs"
			FROM inventory i WHERE i.sku = $1 FOR UPDATE`, sku); err != nil {
			return err
		}
		if (d.OnHand == d.LedgerOnHand && d.Reserved == d.LedgerRs) || !d.Fixable() {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE inventory SET on_hand = $2, reserved = $3, updated_at = $4 WHERE sku = $1`,
			sku, d.LedgerOnHand, d.LedgerRs, s.now())
		fixed = err == nil
		return err
	})
	return fixed, err
}
