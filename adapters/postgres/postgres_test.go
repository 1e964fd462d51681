package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/domain"
)

// openDB returns a migrated, empty database for the test.
func openDB(t testing.TB) *sqlx.DB { return pgtest.Open(t, 20) }

var entrySeq atomic.Int64

// apply stores one inbox entry for ev and applies it, as a worker would.
func apply(t testing.TB, db *sqlx.DB, l *postgres.Ledger, evs ...domain.Event) {
	t.Helper()
	if err := tryApply(db, l, evs...); err != nil {
		t.Fatalf("apply %s: %v", evs[0].EventID, err)
	}
}

func tryApply(db *sqlx.DB, l *postgres.Ledger, evs ...domain.Event) error {
	ctx := context.Background()
	inbox := &postgres.Inbox{DB: db}
	res, err := inbox.Insert(ctx, []domain.InboxEntry{{
		Source: evs[0].Source, Provider: evs[0].Provider, EventID: fmt.Sprintf("%s#%d", evs[0].EventID, entrySeq.Add(1)),
		EventType: string(evs[0].Type), Body: []byte("{}"), ReceivedAt: time.Now(), Status: domain.InboxReceived,
	}})
	if err != nil {
		return err
	}
	return l.ApplyEntry(ctx, res[0].ID, evs)
}

// builder makes the events of one order's life.
type builder struct {
	ref, sku string
	t0       time.Time
}

func (b builder) base(typ domain.EventType, id string, sec int) domain.Event {
	return domain.Event{Type: typ, Provider: "test", Source: "test", EventID: b.ref + ":" + id, OrderRef: b.ref, OccurredAt: b.t0.Add(time.Duration(sec) * time.Second)}
}

func (b builder) order(typ domain.EventType, id string, version int64, status domain.OrderStatus, qty, unit int64) domain.Event {
	e := b.base(typ, id, int(version))
	e.Version = version
	e.Order = &domain.OrderSnapshot{Status: status, Currency: "USD", Total: qty * unit, Lines: []domain.Line{{SKU: b.sku, Quantity: qty, UnitPrice: unit}}}
	return e
}

func (b builder) payment(typ domain.EventType, id string, sec int, amount int64) domain.Event {
	e := b.base(typ, id, sec)
	e.Provider, e.Source, e.PaymentRef = "gateway", "gateway", "pay_"+b.ref
	e.Payment = &domain.PaymentChange{Amount: amount, Currency: "USD"}
	return e
}

func (b builder) refund(id string, sec int, amount int64, restock bool) domain.Event {
	e := b.payment(domain.PaymentRefunded, id, sec, amount)
	e.Payment.RefundRef, e.Payment.Restock = "re_"+b.ref+"_"+id, restock
	return e
}

func (b builder) stock(id string, sec int, onHand int64) domain.Event {
	e := b.base(domain.InventoryLevelSet, id, sec)
	e.OrderRef = ""
	e.Stock = &domain.StockLevel{SKU: b.sku, OnHand: onHand}
	return e
}

// state is everything an order's events decide, for comparing runs.
type state struct {
	Status, PaymentStatus, Currency string
	Total                           int64
	Lines                           string
	Captured, Refunded              int64
	Alloc                           string
	OnHand, Reserved                int64
}

func readState(t testing.TB, db *sqlx.DB, ref, sku string) state {
	t.Helper()
	var s state
	err := db.QueryRow(`
		SELECT COALESCE(NULLIF(o.local_status, ''), o.status), o.payment_status, o.currency, o.total, o.lines::text,
			COALESCE((SELECT SUM(captured) FROM payments WHERE order_ref = o.ref), 0),
			COALESCE((SELECT SUM(amount) FROM refunds r JOIN payments p ON p.provider = r.provider AND p.ref = r.payment_ref WHERE p.order_ref = o.ref), 0),
			COALESCE((SELECT state || ':' || quantity FROM allocations WHERE order_ref = o.ref AND sku = $2), ''),
			COALESCE((SELECT on_hand FROM inventory WHERE sku = $2), 0),
			COALESCE((SELECT reserved FROM inventory WHERE sku = $2), 0)
		FROM orders o WHERE o.ref = $1`, ref, sku).Scan(&s.Status, &s.PaymentStatus, &s.Currency, &s.Total, &s.Lines,
		&s.Captured, &s.Refunded, &s.Alloc, &s.OnHand, &s.Reserved)
	if err != nil {
		t.Fatalf("read state of %s: %v", ref, err)
	}
	return s
}

// checkLedger fails unless every SKU's counters equal the sums of its ledger.
func checkLedger(t testing.TB, db *sqlx.DB) {
	t.Helper()
	var bad []string
	err := db.Select(&bad, `
		SELECT i.sku || ': on_hand ' || i.on_hand || ' vs ledger ' || COALESCE(SUM(l.delta_on_hand), 0) ||
			', reserved ' || i.reserved || ' vs ledger ' || COALESCE(SUM(l.delta_reserved), 0)
		FROM inventory i LEFT JOIN stock_ledger l ON l.sku = i.sku
		GROUP BY i.sku, i.on_hand, i.reserved
		HAVING i.on_hand <> COALESCE(SUM(l.delta_on_hand), 0) OR i.reserved <> COALESCE(SUM(l.delta_reserved), 0)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("ledger does not sum to the counters: %s", b)
	}
}
