package postgres_test

import (
	"errors"
	"fmt"
	"github.com/jmoiron/sqlx"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lib/pq"
	"pgregory.net/rapid"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

// genStream draws one order's event stream in its canonical (provider time) order.
func genStream(t *rapid.T, b builder) []domain.Event {
	qty := rapid.Int64Range(1, 5).Draw(t, "qty")
	unit := rapid.Int64Range(100, 1000).Draw(t, "unit")
	evs := []domain.Event{b.stock("stock", 0, 50), b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, qty, unit)}
	total := qty * unit
	if rapid.Bool().Draw(t, "updated") {
		qty = rapid.Int64Range(1, 5).Draw(t, "qty2")
		total = qty * unit
		evs = append(evs, b.order(domain.OrderUpdated, "updated", 2, domain.StatusPlaced, qty, unit))
	}
	if rapid.Bool().Draw(t, "authorized") {
		evs = append(evs, b.payment(domain.PaymentAuthorized, "auth", 10, total))
	}
	if rapid.Bool().Draw(t, "failed") {
		evs = append(evs, b.payment(domain.PaymentFailed, "failed", 11, total))
	}
	captured := int64(0)
	if rapid.Bool().Draw(t, "paid") {
		captured = rapid.SampledFrom([]int64{total, total / 2, total + 100}).Draw(t, "captured")
		evs = append(evs, b.payment(domain.PaymentSucceeded, "paid", 12, captured))
		if captured > 0 && rapid.Bool().Draw(t, "refunded") {
			evs = append(evs, b.refund("r1", 13, rapid.Int64Range(1, captured).Draw(t, "refund"), rapid.Bool().Draw(t, "restock")))
			if rapid.Bool().Draw(t, "r1 failed") {
				failed := b.refund("r1", 16, 0, false)
				failed.Type, failed.EventID = domain.RefundFailed, b.ref+":r1-failed"
				evs = append(evs, failed)
			}
		}
		if captured > 0 && rapid.Bool().Draw(t, "partial refund with restock") {
			r2 := b.refund("r2", 14, 1, false)
			r2.Payment.RestockLines = []domain.RestockLine{{SKU: b.sku, Quantity: rapid.Int64Range(1, 3).Draw(t, "restocked")}}
			evs = append(evs, r2)
		}
		// A dispute's lifecycle, some of its stages.
		for i, d := range []domain.Dispute{
			{Stage: 1, Outcome: domain.DisputeOpen, Status: "notification_of_chargeback"},
			{Stage: 2, Outcome: domain.DisputeOpen, Status: "chargeback"},
			{Stage: 4, Outcome: domain.DisputeWon, Status: "chargeback_reversed"},
			{Stage: 5, Outcome: domain.DisputeLost, Status: "second_chargeback"},
		} {
			if rapid.Bool().Draw(t, fmt.Sprint("dispute stage ", i)) {
				ev := b.payment(domain.DisputeOpened, "dispute-"+d.Status, 20+i, 0)
				if d.Closed() {
					ev.Type = domain.DisputeClosed
				}
				ev.Payment, ev.Dispute = nil, &domain.Dispute{Ref: "dp_" + b.ref, Amount: captured, Currency: "USD", Status: d.Status, Outcome: d.Outcome, Stage: d.Stage}
				evs = append(evs, ev)
			}
		}
	}
	switch rapid.IntRange(0, 2).Draw(t, "ending") {
	case 1:
		evs = append(evs, b.order(domain.OrderCancelled, "cancelled", 3, domain.StatusCancelled, qty, unit))
	case 2:
		evs = append(evs, b.order(domain.OrderFulfilled, "fulfilled", 3, domain.StatusFulfilled, qty, unit))
	}
	return evs
}

// TestAnyPermutationAndDuplicationConverges applies a generated event stream in its
// canonical order to one database and shuffled, with duplicates, to another: the
// order, its payments and its stock must end the same.
func TestAnyPermutationAndDuplicationConverges(t *testing.T) {
	t.Parallel()
	canonicalDB, shuffledDB := openDB(t), openDB(t)
	canonical, shuffled := &postgres.Ledger{DB: canonicalDB}, &postgres.Ledger{DB: shuffledDB}
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		b := builder{ref: fmt.Sprintf("P%d", n), sku: fmt.Sprintf("SKU-P%d", n), t0: t0}
		evs := genStream(rt, b)
		delivered := rapid.Permutation(evs).Draw(rt, "order")
		for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(evs)-1), 0, 4).Draw(rt, "duplicates") {
			delivered = append(delivered, evs[i])
		}
		delivered = rapid.Permutation(delivered).Draw(rt, "delivery")

		for _, ev := range evs {
			apply(t, canonicalDB, canonical, ev)
		}
		for _, ev := range delivered {
			apply(t, shuffledDB, shuffled, ev)
		}
		want, got := readState(t, canonicalDB, b.ref, b.sku), readState(t, shuffledDB, b.ref, b.sku)
		if diff := cmp.Diff(want, got); diff != "" {
			rt.Fatalf("state differs from the canonical order (-canonical +shuffled):\n%s", diff)
		}
		if got.OnHand < got.Reserved {
			rt.Fatalf("available below zero: %+v", got)
		}
	})
	checkLedger(t, canonicalDB)
	checkLedger(t, shuffledDB)
}

// TestConcurrentWorkersOnSharedOrdersAndSKUs applies interleaved events for many
// orders over a few SKUs from many goroutines, and checks the exact final stock.
func TestConcurrentWorkersOnSharedOrdersAndSKUs(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	skus := []string{"HOT-1", "HOT-2", "HOT-3"}
	const stock, orders = 200, 60
	var evs []domain.Event
	for _, sku := range skus {
		evs = append(evs, builder{ref: "stock", sku: sku, t0: t0}.stock("s-"+sku, 0, stock))
	}
	wantCommitted, wantReserved := map[string]int64{}, map[string]int64{}
	for i := range orders {
		b := builder{ref: fmt.Sprintf("CC%d", i), t0: t0}
		a, c := skus[i%3], skus[(i+1)%3]
		placed := b.base(domain.OrderPlaced, "placed", 1)
		placed.Version = 1
		placed.Order = &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: "USD", Total: 300,
			Lines: []domain.Line{{SKU: a, Quantity: 2, UnitPrice: 100}, {SKU: c, Quantity: 1, UnitPrice: 100}}}
		evs = append(evs, placed)
		switch i % 3 {
		case 0: // paid
			evs = append(evs, b.payment(domain.PaymentSucceeded, "paid", 5, 300))
			wantCommitted[a] += 2
			wantCommitted[c]++
		case 1: // cancelled after payment: restocked, and a conflict
			cancelled := placed
			cancelled.Type, cancelled.EventID, cancelled.Version = domain.OrderCancelled, b.ref+":cancelled", 2
			cancelled.Order = &domain.OrderSnapshot{Status: domain.StatusCancelled, Currency: "USD", Total: 300, Lines: placed.Order.Lines}
			evs = append(evs, b.payment(domain.PaymentSucceeded, "paid", 5, 300), cancelled)
		case 2: // placed, unpaid
			wantReserved[a] += 2
			wantReserved[c]++
		}
	}
	// Deliver everything twice, shuffled, to 16 workers.
	work := append(append([]domain.Event{}, evs...), evs...)
	rand.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })
	ch := make(chan domain.Event)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range ch {
				if err := applyRetrying(db, l, ev); err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, ev := range work {
		ch <- ev
	}
	close(ch)
	wg.Wait()
	for _, err := range failures {
		t.Error(err)
	}
	for _, sku := range skus {
		var onHand, reserved int64
		if err := db.QueryRow(`SELECT on_hand, reserved FROM inventory WHERE sku = $1`, sku).Scan(&onHand, &reserved); err != nil {
			t.Fatal(err)
		}
		if onHand != stock-wantCommitted[sku] || reserved != wantReserved[sku] {
			t.Errorf("%s: on_hand %d reserved %d, want %d and %d", sku, onHand, reserved, stock-wantCommitted[sku], wantReserved[sku])
		}
	}
	var applied int
	_ = db.Get(&applied, `SELECT count(*) FROM applied_events`)
	if applied != len(evs) {
		t.Errorf("applied events = %d, want %d (each once)", applied, len(evs))
	}
	checkLedger(t, db)
}

// applyRetrying retries what a worker would retry: deadlocks and serialization failures.
func applyRetrying(db *sqlx.DB, l *postgres.Ledger, ev domain.Event) error {
	for attempt := 0; ; attempt++ {
		err := tryApply(db, l, ev)
		var pe *pq.Error
		if err == nil || attempt == 10 || !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "40001") {
			return err
		}
	}
}
