package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

const grace = 2 * time.Minute

func conflictRows(t *testing.T, db interface {
	GetContext(context.Context, any, string, ...any) error
}, ref string) int {
	t.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, `SELECT count(*) FROM conflicts WHERE order_ref = $1`, ref); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestArrivalOrderLeavesNoConflict: flows whose events arrive out of order but end
// consistent leave no conflict row at all, open, resolved or cleared.
func TestArrivalOrderLeavesNoConflict(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	clk := &clock{t: time.Now()}
	l := &postgres.Ledger{DB: db, Grace: grace, Now: clk.now}
	tests := []struct {
		name    string
		entries func(b builder) [][]domain.Event // each entry is applied in one transaction
	}{
		{"stripe: the refund before its capture", func(b builder) [][]domain.Event {
			return [][]domain.Event{{b.refund("r1", 4, 500, false)}, {b.payment(domain.PaymentSucceeded, "paid", 3, 500)}}
		}},
		{"adyen batch: refund, capture and authorisation in one notification", func(b builder) [][]domain.Event {
			return [][]domain.Event{{b.refund("r1", 4, 300, false), b.payment(domain.PaymentSucceeded, "capture", 3, 500),
				b.payment(domain.PaymentAuthorized, "auth", 2, 500)}}
		}},
		{"a partial payment before its order's total", func(b builder) [][]domain.Event {
			return [][]domain.Event{{b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 1, 500)},
				{b.payment(domain.PaymentSucceeded, "p1", 3, 200)}, {b.payment(domain.PaymentSucceeded, "p2", 4, 500)}}
		}},
		{"refund before capture, then the capture a minute later", func(b builder) [][]domain.Event {
			return [][]domain.Event{{b.refund("r1", 4, 500, false)}, {}, {b.payment(domain.PaymentSucceeded, "paid", 3, 500)}}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := builder{ref: "AR" + string(rune('a'+i)), sku: "SKU-AR", t0: t0}
			for _, evs := range tt.entries(b) {
				if len(evs) == 0 {
					clk.t = clk.t.Add(time.Minute) // within the grace period
					if _, err := (&postgres.Conflicts{DB: db}).Mature(t.Context(), clk.t, grace, 100); err != nil {
						t.Fatal(err)
					}
					continue
				}
				apply(t, db, l, evs...)
			}
			if n := conflictRows(t, db, b.ref); n != 0 {
				list, _ := (&postgres.Conflicts{DB: db}).List(t.Context(), domain.ConflictFilter{OrderRef: b.ref, State: domain.ConflictPending})
				t.Errorf("%d conflict rows left by a flow that ended consistent: %+v", n, list)
			}
		})
	}
}

// TestARealInconsistencyIsShownAfterTheGracePeriod: a condition that still holds
// once the grace period is over is shown by the scheduled task, with no further
// event; until then it is pending and not listed.
func TestARealInconsistencyIsShownAfterTheGracePeriod(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	start := time.Now()
	clk := &clock{t: start}
	l := &postgres.Ledger{DB: db, Grace: grace, Now: clk.now}
	conflicts := &postgres.Conflicts{DB: db}
	b := builder{ref: "RI1", sku: "SKU-RI", t0: t0}
	c := builder{ref: "RI2", sku: "SKU-RI", t0: t0}
	apply(t, db, l, b.payment(domain.PaymentSucceeded, "paid", 3, 100), b.refund("r1", 4, 150, false))
	apply(t, db, l, c.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 1, 500), c.payment(domain.PaymentSucceeded, "p", 3, 400))

	shown := func(ref string) []domain.Conflict {
		t.Helper()
		list, err := conflicts.List(t.Context(), domain.ConflictFilter{OrderRef: ref})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	for _, ref := range []string{"RI1", "RI2"} {
		if list := shown(ref); len(list) != 0 {
			t.Errorf("%s: shown before the grace period: %+v", ref, list)
		}
	}
	if n, err := conflicts.Mature(t.Context(), start.Add(grace-time.Second), grace, 100); err != nil || n != 0 {
		t.Fatalf("Mature before the grace period = %d, %v; want 0", n, err)
	}
	if n, err := conflicts.Mature(t.Context(), start.Add(grace), grace, 100); err != nil || n != 2 {
		t.Fatalf("Mature after the grace period = %d, %v; want 2", n, err)
	}
	if list := shown("RI1"); len(list) != 1 || list[0].Kind != domain.ConflictRefundExceedsCapture ||
		list[0].State != domain.ConflictResolved || list[0].ResolvedBy != domain.ResolvedByRule {
		t.Errorf("RI1 = %+v, want refund_exceeds_capture resolved by its rule", list)
	}
	if list := shown("RI2"); len(list) != 1 || list[0].Kind != domain.ConflictAmountMismatch || list[0].State != domain.ConflictOpen {
		t.Errorf("RI2 = %+v, want amount_mismatch open", list)
	}

	// Once shown, a conflict that clears stays on record as cleared.
	clk.t = start.Add(grace + time.Minute)
	apply(t, db, l, c.payment(domain.PaymentSucceeded, "p2", 4, 500))
	if list := shown("RI2"); len(list) != 1 || list[0].State != domain.ConflictCleared {
		t.Errorf("RI2 after the full capture = %+v, want cleared", list)
	}
}
