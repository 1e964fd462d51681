package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// errInsufficient is returned by moveStock when a change would take available below zero.
var errInsufficient = errors.New("insufficient stock")

// stockMove is one change to a SKU's counters.
type stockMove struct {
	SKU           string
	DeltaOnHand   int64 // nominal: what it does to on_hand unless a later absolute level absorbed it
	DeltaReserved int64
	Cause         string
	OrderRef      string
	ReservationID string
	Source        string
	EventID       string
	OccurredAt    time.Time
}

type inventoryRow struct {
	SKU       string        `db:"sku"`
	OnHand    int64         `db:"on_hand"`
	Reserved  int64         `db:"reserved"`
	SetLevel  sql.NullInt64 `db:"set_level"`
	SetAt     sql.NullTime  `db:"set_at"`
	SetEvent  string        `db:"set_event"`
	SetOwn    bool          `db:"set_own"`
	UpdatedAt time.Time     `db:"updated_at"`
}

func (r inventoryRow) stock() domain.Stock {
	return domain.Stock{SKU: r.SKU, OnHand: r.OnHand, Reserved: r.Reserved, Available: r.OnHand - r.Reserved, UpdatedAt: r.UpdatedAt.UTC()}
}

// skuStock is what the decisions need of the row.
func (r inventoryRow) skuStock() domain.SKUStock {
	s := domain.SKUStock{OnHand: r.OnHand, Reserved: r.Reserved}
	if r.SetAt.Valid {
		s.Level = &domain.LevelStamp{At: r.SetAt.Time, Own: r.SetOwn}
	}
	return s
}

const inventoryColumns = `sku, on_hand, reserved, set_level, set_at, set_event, set_own, updated_at`

// lockSKU returns a SKU's inventory row locked, creating it at zero. The no-op
// update on conflict takes the row lock and returns the row in the same statement.
func lockSKU(ctx context.Context, tx sqlx.ExtContext, sku string) (inventoryRow, error) {
	var r inventoryRow
	err := sqlx.GetContext(ctx, tx, &r, `INSERT INTO inventory (sku) VALUES ($1)
		ON CONFLICT (sku) DO UPDATE SET sku = EXCLUDED.sku RETURNING `+inventoryColumns, sku)
	return r, err
}

// moveStock applies m and writes its ledger row. A change to on_hand that an
// absolute level already contains (domain.Absorbed) is recorded but absorbed.
// Returns errInsufficient, changing nothing, when available would go below zero.
func moveStock(ctx context.Context, tx sqlx.ExtContext, m stockMove) error {
	inv, err := lockSKU(ctx, tx, m.SKU)
	if err != nil {
		return err
	}
	actual := m.DeltaOnHand
	if domain.Absorbed(m.OccurredAt, inv.skuStock().Level) {
		actual = 0
	}
	onHand, reserved := inv.OnHand+actual, inv.Reserved+m.DeltaReserved
	if reserved < 0 || reserved > onHand {
		return errInsufficient
	}
	if _, err := tx.ExecContext(ctx, `UPDATE inventory SET on_hand = $2, reserved = $3, updated_at = now() WHERE sku = $1`,
		m.SKU, onHand, reserved); err != nil {
		return err
	}
	return ledger(ctx, tx, m, actual)
}

func ledger(ctx context.Context, tx sqlx.ExtContext, m stockMove, actualOnHand int64) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO stock_ledger (sku, cause, delta_on_hand, delta_reserved, nominal_on_hand, order_ref, reservation_id, source, event_id, occurred_at)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''), $8, $9, $10)`,
		m.SKU, m.Cause, actualOnHand, m.DeltaReserved, m.DeltaOnHand, m.OrderRef, m.ReservationID, m.Source, m.EventID, m.OccurredAt)
	return err
}

// setLevel applies an absolute on-hand level stated as of stamp, as
// domain.AbsorbLevel decides, on a SKU the caller has locked. It reports whether
// the level was stale.
func setLevel(ctx context.Context, tx *ltx, sku string, level int64, stamp domain.LevelStamp, cause, source, eventID string) (stale bool, err error) {
	if stamp.At.IsZero() {
		stamp.At = tx.now
	}
	inv, err := lockSKU(ctx, tx, sku)
	if err != nil {
		return false, err
	}
	var later int64
	if err := tx.GetContext(ctx, &later, `
		SELECT COALESCE(SUM(nominal_on_hand), 0) FROM stock_ledger
		WHERE sku = $1 AND occurred_at > $2 AND cause NOT IN ('storefront_set', 'manual_set', 'reconciliation')`, sku, stamp.At); err != nil {
		return false, err
	}
	d := domain.AbsorbLevel(inv.skuStock(), level, stamp, later, source, eventID)
	if d.Conflict != nil {
		d.Conflict.SKU = sku
		if err := upsertConflict(ctx, tx, "", *d.Conflict, tx.now); err != nil {
			return false, err
		}
	}
	if d.Stale {
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE inventory SET on_hand = $2, set_level = $3, set_at = $4, set_event = $5, set_own = $6, updated_at = $7 WHERE sku = $1`,
		sku, d.OnHand, level, d.Stamp.At, eventID, d.Stamp.Own, tx.now); err != nil {
		return false, err
	}
	m := stockMove{SKU: sku, Cause: cause, Source: source, EventID: eventID, OccurredAt: d.Stamp.At}
	return false, ledger(ctx, tx, m, d.OnHand-inv.OnHand)
}

// Inventory reads and sets stock through the API.
type Inventory struct {
	DB *sqlx.DB
	// OversellPolicy applies to backordered orders a new level lets through.
	OversellPolicy string
	// Grace is how long a conflict that can be an artefact of arrival order waits
	// before it is shown (see domain.DecideConflicts).
	Grace time.Duration
	// Now is the clock reservations expire by and writes are stamped with (time.Now when nil).
	Now func() time.Time
	// Destinations that want stock.changed get a delivery for a level set here.
	Destinations []domain.Destination
}

var _ domain.Inventory = (*Inventory)(nil)

// Stock implements domain.Inventory. A reservation past its time stops counting
// at once, before the sweeper has released it.
func (s *Inventory) Stock(ctx context.Context, sku string) (domain.Stock, error) {
	var r struct {
		inventoryRow
		Expired int64 `db:"expired"`
	}
	err := s.DB.GetContext(ctx, &r, `SELECT `+inventoryColumns+`,
		(SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE sku = $1 AND state = 'active' AND expires_at <= $2) AS expired
		FROM inventory WHERE sku = $1`, sku, s.now())
	if err != nil {
		return domain.Stock{}, translate(fmt.Sprintf("stock of %q", sku), err)
	}
	r.Reserved -= r.Expired
	return r.stock(), nil
}

func (s *Inventory) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// SetOnHand implements domain.Inventory.
func (s *Inventory) SetOnHand(ctx context.Context, sku string, onHand int64, at time.Time, cause string) (domain.Stock, error) {
	l := &Ledger{DB: s.DB, OversellPolicy: s.OversellPolicy, Grace: s.Grace, Destinations: s.Destinations, Now: s.Now}
	now := s.now().Truncate(time.Microsecond)
	var busy []busyOrder
	at = at.Truncate(time.Microsecond) // as PostgreSQL keeps it
	err := inTx(ctx, s.DB, "set stock", func(tx *sqlx.Tx) error {
		var inv inventoryRow
		err := tx.GetContext(ctx, &inv, `SELECT `+inventoryColumns+` FROM inventory WHERE sku = $1`, sku)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if err := domain.CheckManualLevel(onHand, inv.Reserved); err != nil {
			return err
		}
		ev := domain.Event{Source: "api", EventID: fmt.Sprintf("%s:%s:%d", cause, sku, at.UnixNano()), OccurredAt: at}
		// A level of Tradewind's own, stamped at its arrival: every change applied
		// after it arrived after it and is never absorbed (domain.Absorbed).
		lt := &ltx{Tx: tx, now: now}
		outcome, err := l.setStock(ctx, lt, sku, onHand, domain.LevelStamp{At: at, Own: true}, cause, ev)
		if outcome == outcomeStale {
			return domain.Errorf(domain.ECONFLICT, "a level stated at %s is newer than this one; check the clocks", inv.SetAt.Time.UTC().Format(time.RFC3339))
		}
		if err != nil {
			return err
		}
		busy = lt.busy
		return l.writeStockDeliveries(ctx, lt, sku, ev)
	})
	if err == nil {
		err = l.settleBusy(ctx, busy)
	}
	if err != nil {
		return domain.Stock{}, err
	}
	return s.Stock(ctx, sku)
}
