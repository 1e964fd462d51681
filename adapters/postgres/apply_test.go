package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestOrderLifecycleMovesStock(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	b := builder{ref: "A1", sku: "SKU-A1", t0: t0}

	apply(t, db, l, b.stock("stock", 0, 10))
	apply(t, db, l, b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 3, 500))
	if s := readState(t, db, "A1", b.sku); s.Reserved != 3 || s.OnHand != 10 || s.Alloc != "reserved:3" {
		t.Fatalf("after OrderPlaced: %+v, want 3 reserved of 10", s)
	}
	apply(t, db, l, b.payment(domain.PaymentSucceeded, "paid", 5, 1500))
	if s := readState(t, db, "A1", b.sku); s.Reserved != 0 || s.OnHand != 7 || s.PaymentStatus != "paid" || s.Alloc != "committed:3" {
		t.Fatalf("after payment: %+v, want 7 on hand, nothing reserved, paid", s)
	}
	apply(t, db, l, b.refund("r1", 9, 1500, true))
	if s := readState(t, db, "A1", b.sku); s.OnHand != 10 || s.PaymentStatus != "refunded" || s.Alloc != "" {
		t.Fatalf("after refund with restock: %+v, want 10 on hand again, refunded", s)
	}
	checkLedger(t, db)
}

func TestRefundWithoutRestockKeepsStockSold(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	b := builder{ref: "B1", sku: "SKU-B1", t0: t0}
	apply(t, db, l, b.stock("stock", 0, 5), b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 2, 1000),
		b.payment(domain.PaymentSucceeded, "paid", 2, 2000), b.refund("r1", 3, 500, false))
	s := readState(t, db, "B1", b.sku)
	if s.OnHand != 3 || s.PaymentStatus != "partially_refunded" || s.Alloc != "committed:2" {
		t.Fatalf("%+v, want 3 on hand, partially_refunded, committed", s)
	}
	checkLedger(t, db)
}

func TestPaymentBeforeOrderIsAttachedWhenTheOrderArrives(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	b := builder{ref: "C1", sku: "SKU-C1", t0: t0}
	apply(t, db, l, b.stock("stock", 0, 4))
	apply(t, db, l, b.payment(domain.PaymentSucceeded, "paid", 5, 800))
	if s := readState(t, db, "C1", b.sku); s.Status != "pending" || s.PaymentStatus != "paid" || s.OnHand != 4 {
		t.Fatalf("payment first: %+v, want a pending paid order holding no stock", s)
	}
	apply(t, db, l, b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 2, 400))
	if s := readState(t, db, "C1", b.sku); s.Status != "placed" || s.PaymentStatus != "paid" || s.OnHand != 2 || s.Alloc != "committed:2" {
		t.Fatalf("then the order: %+v, want placed, paid, 2 units committed", s)
	}
	checkLedger(t, db)
}

func TestStaleUpdateChangesNothing(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	b := builder{ref: "D1", sku: "SKU-D1", t0: t0}
	apply(t, db, l, b.stock("stock", 0, 10))
	apply(t, db, l, b.order(domain.OrderUpdated, "v2", 2, domain.StatusPlaced, 4, 100))
	apply(t, db, l, b.order(domain.OrderPlaced, "v1", 1, domain.StatusPlaced, 1, 100)) // late, older
	s := readState(t, db, "D1", b.sku)
	if s.Total != 400 || s.Reserved != 4 {
		t.Fatalf("%+v: the older snapshot changed the order", s)
	}
	var outcome string
	if err := db.Get(&outcome, `SELECT outcome FROM applied_events WHERE event_id = 'D1:v1'`); err != nil || outcome != "stale" {
		t.Errorf("older snapshot recorded as %q (%v), want stale", outcome, err)
	}
	// A stock level older than the one applied is ignored too.
	apply(t, db, l, b.stock("older-stock", -5, 99))
	if s := readState(t, db, "D1", b.sku); s.OnHand != 10 {
		t.Errorf("older stock level applied: on_hand %d", s.OnHand)
	}
	checkLedger(t, db)
}

func TestConflicts(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	conflicts := &postgres.Conflicts{DB: db}
	kinds := func(ref string) map[string]string {
		list, err := conflicts.List(t.Context(), domain.ConflictFilter{OrderRef: ref})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, c := range list {
			out[c.Kind] = c.State
		}
		return out
	}
	tests := []struct {
		name   string
		events func(b builder) []domain.Event
		kind   string
		state  string
	}{
		{"paid after cancelled", func(b builder) []domain.Event {
			return []domain.Event{b.order(domain.OrderCancelled, "c", 2, domain.StatusCancelled, 1, 100), b.payment(domain.PaymentSucceeded, "p", 3, 100)}
		}, domain.ConflictPaidAfterCancelled, "open"},
		{"amount differs from total", func(b builder) []domain.Event {
			return []domain.Event{b.order(domain.OrderPlaced, "o", 1, domain.StatusPlaced, 1, 100), b.payment(domain.PaymentSucceeded, "p", 3, 90)}
		}, domain.ConflictAmountMismatch, "open"},
		{"refund larger than capture", func(b builder) []domain.Event {
			return []domain.Event{b.payment(domain.PaymentSucceeded, "p", 3, 100), b.refund("r", 4, 150, false)}
		}, domain.ConflictRefundExceedsCapture, "resolved"},
		{"currency mismatch", func(b builder) []domain.Event {
			p := b.payment(domain.PaymentSucceeded, "p", 3, 100)
			p.Payment.Currency = "EUR"
			return []domain.Event{b.order(domain.OrderPlaced, "o", 1, domain.StatusPlaced, 1, 100), p}
		}, domain.ConflictCurrencyMismatch, "open"},
		{"oversold", func(b builder) []domain.Event {
			return []domain.Event{b.stock("s", 0, 1), b.order(domain.OrderPlaced, "o", 1, domain.StatusPlaced, 5, 100)}
		}, domain.ConflictOversold, "open"},
		{"dispute opened", func(b builder) []domain.Event {
			d := b.payment(domain.DisputeOpened, "d", 5, 0)
			d.Payment, d.Dispute = nil, &domain.Dispute{Ref: "dp_" + b.ref, Amount: 100, Currency: "USD", Status: "needs_response"}
			return []domain.Event{b.payment(domain.PaymentSucceeded, "p", 3, 100), d}
		}, domain.ConflictDispute, "open"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := builder{ref: "E" + string(rune('a'+i)), sku: "SKU-E" + string(rune('a'+i)), t0: t0}
			for _, ev := range tt.events(b) {
				apply(t, db, l, ev)
			}
			if got := kinds(b.ref)[tt.kind]; got != tt.state {
				t.Errorf("conflicts %v: want %s %s", kinds(b.ref), tt.kind, tt.state)
			}
		})
	}

	t.Run("a conflict clears when its condition does, and a person can resolve one", func(t *testing.T) {
		b := builder{ref: "F1", sku: "SKU-F1", t0: t0}
		apply(t, db, l, b.order(domain.OrderPlaced, "o", 1, domain.StatusPlaced, 1, 100), b.payment(domain.PaymentSucceeded, "p1", 2, 60))
		if kinds("F1")[domain.ConflictAmountMismatch] != "open" {
			t.Fatal("partial capture did not open amount_mismatch")
		}
		apply(t, db, l, b.payment(domain.PaymentSucceeded, "p2", 3, 100))
		if got := kinds("F1")[domain.ConflictAmountMismatch]; got != domain.ConflictCleared {
			t.Errorf("after the full capture amount_mismatch is %q, want cleared", got)
		}
		g := builder{ref: "F2", sku: "SKU-F2", t0: t0}
		apply(t, db, l, g.order(domain.OrderCancelled, "c", 2, domain.StatusCancelled, 1, 100), g.payment(domain.PaymentSucceeded, "p", 3, 100))
		list, _ := conflicts.List(t.Context(), domain.ConflictFilter{OrderRef: "F2", State: "open"})
		if len(list) != 1 {
			t.Fatalf("open conflicts = %+v", list)
		}
		got, err := conflicts.Resolve(t.Context(), list[0].ID, "refunded by hand in the Stripe dashboard")
		if err != nil || got.State != "resolved" || !strings.Contains(got.Note, "by hand") {
			t.Fatalf("Resolve = %+v, %v", got, err)
		}
		if _, err := conflicts.Resolve(t.Context(), list[0].ID, "again"); domain.ErrorCode(err) != domain.ECONFLICT {
			t.Errorf("resolving twice = %v, want ECONFLICT", err)
		}
		if _, err := conflicts.Resolve(t.Context(), 999999, "x"); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("resolving a missing conflict = %v, want ENOTFOUND", err)
		}
	})
}

func TestOversellCancelPolicy(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db, OversellPolicy: postgres.OversellCancel}
	b := builder{ref: "G1", sku: "SKU-G1", t0: t0}
	apply(t, db, l, b.stock("s", 0, 2), b.order(domain.OrderPlaced, "o", 1, domain.StatusPlaced, 3, 100))
	s := readState(t, db, "G1", b.sku)
	if s.Status != "cancelled" || s.Reserved != 0 || s.Alloc != "" {
		t.Fatalf("%+v, want the order cancelled in Tradewind and nothing reserved", s)
	}
	checkLedger(t, db)
}

func TestUntrackedSKUWaitsWithoutConflictUntilALevelArrives(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	b := builder{ref: "U1", sku: "SKU-U1", t0: t0}
	apply(t, db, l, b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 2, 100))
	if s := readState(t, db, "U1", b.sku); s.Alloc != "backordered:2" || s.Reserved != 0 {
		t.Fatalf("%+v, want the order waiting on the untracked SKU", s)
	}
	list, _ := (&postgres.Conflicts{DB: db}).List(t.Context(), domain.ConflictFilter{OrderRef: "U1"})
	if len(list) != 0 {
		t.Errorf("conflicts on an untracked SKU: %+v", list)
	}
	apply(t, db, l, b.stock("stock", 5, 10))
	if s := readState(t, db, "U1", b.sku); s.Alloc != "reserved:2" || s.Reserved != 2 {
		t.Errorf("%+v, want 2 reserved once the SKU has a level", s)
	}
	checkLedger(t, db)
}

func TestARuleResolvedConflictClearsWhenItsConditionDoes(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	b := builder{ref: "V1", sku: "SKU-V1", t0: t0}
	apply(t, db, l, b.refund("r1", 4, 500, false)) // the refund arrives before the capture
	apply(t, db, l, b.payment(domain.PaymentSucceeded, "paid", 3, 500))
	list, _ := (&postgres.Conflicts{DB: db}).List(t.Context(), domain.ConflictFilter{OrderRef: "V1"})
	if len(list) != 1 || list[0].State != domain.ConflictCleared || !strings.HasPrefix(list[0].Rule, "condition cleared by") {
		t.Errorf("conflicts = %+v, want refund_exceeds_capture marked cleared", list)
	}
}
