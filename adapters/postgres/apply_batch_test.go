package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

// insertEntry stores an inbox entry for evs, received and not applied.
func insertEntry(t testing.TB, db *sqlx.DB, evs ...domain.Event) int64 {
	t.Helper()
	res, err := (&postgres.Inbox{DB: db}).Insert(context.Background(), []domain.InboxEntry{{
		Source: evs[0].Source, Provider: evs[0].Provider, EventID: fmt.Sprintf("%s#%d", evs[0].EventID, entrySeq.Add(1)),
		EventType: string(evs[0].Type), Body: []byte("{}"), ReceivedAt: time.Now(), Status: domain.InboxReceived,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].ID
}

// countFallbacks counts the shared transactions of l that failed as a whole, by
// what their entries fell back to ("savepoints", "singles").
func countFallbacks(t *testing.T, l *postgres.Ledger) func(next string) int64 {
	var mu sync.Mutex
	n := map[string]int64{}
	l.OnBatchFallback = func(entries int, next string, err error) {
		mu.Lock()
		defer mu.Unlock()
		n[next]++
		t.Logf("batch of %d fell back to %s: %v", entries, next, err)
	}
	return func(next string) int64 {
		mu.Lock()
		defer mu.Unlock()
		return n[next]
	}
}

func TestApplyEntriesPoisonEntryFailsAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := builder{ref: "PA", sku: "SKU-PA", t0: t0}
	b := builder{ref: "PB", sku: "SKU-PB", t0: t0}
	p := builder{ref: "PP", sku: "SKU-PP", t0: t0}

	goErr := p.payment(domain.DisputeOpened, "dispute", 3, 100) // no dispute: refused before any SQL
	sqlErr := a.payment(domain.PaymentAuthorized, "nul", 4, 100)
	sqlErr.Payment.Currency = "US\x00D" // PostgreSQL refuses the NUL byte: the statement, and the transaction, abort
	good := [][]domain.Event{
		{a.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 2, 500)},
		{b.payment(domain.PaymentSucceeded, "paid", 2, 700)},
		{a.payment(domain.PaymentSucceeded, "paid", 5, 1000)},
	}

	// The same good entries applied one by one, for the state they must reach.
	want := openDB(t)
	wl := &postgres.Ledger{DB: want}
	apply(t, want, wl, a.stock("stock", 0, 10))
	for _, evs := range good {
		apply(t, want, wl, evs...)
	}

	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	fallbacks := countFallbacks(t, l)
	apply(t, db, l, a.stock("stock", 0, 10))
	entries := []domain.EntryEvents{
		{ID: insertEntry(t, db, good[0]...), Events: good[0]},
		{ID: insertEntry(t, db, goErr), Events: []domain.Event{goErr}},
		{ID: insertEntry(t, db, good[1]...), Events: good[1]},
		{ID: insertEntry(t, db, sqlErr), Events: []domain.Event{sqlErr}},
		{ID: 1 << 40, Events: good[2]}, // no such entry
		{ID: insertEntry(t, db, good[2]...), Events: good[2]},
	}
	errs := l.ApplyEntries(ctx, entries)

	wantFailed := []bool{false, true, false, true, true, false}
	for i, err := range errs {
		if (err != nil) != wantFailed[i] {
			t.Errorf("entry %d (%s): error %v, want failed = %v", i, entries[i].Events[0].EventID, err, wantFailed[i])
		}
	}
	if code := domain.ErrorCode(errs[4]); code != domain.ENOTFOUND {
		t.Errorf("missing entry: code %q (%v), want %s", code, errs[4], domain.ENOTFOUND)
	}
	if n := fallbacks("singles"); n != 0 {
		t.Errorf("%d batches fell back to single entries; a bad entry must fail alone", n)
	}
	for _, i := range []int{1, 3} {
		var status string
		var appliedAt *time.Time
		if err := db.QueryRow(`SELECT status, applied_at FROM inbox WHERE id = $1`, entries[i].ID).Scan(&status, &appliedAt); err != nil {
			t.Fatal(err)
		}
		if status != domain.InboxReceived || appliedAt != nil {
			t.Errorf("failed entry %d: status %q applied_at %v, want received and never applied", i, status, appliedAt)
		}
	}
	if n := countOf(t, db, `SELECT count(*) FROM applied_events WHERE event_id IN ($1, $2)`, goErr.EventID, sqlErr.EventID); n != 0 {
		t.Errorf("%d events of the failed entries recorded as applied, want 0", n)
	}
	if n := countOf(t, db, `SELECT count(*) FROM orders WHERE ref = $1`, p.ref); n != 0 {
		t.Errorf("the failed entry's order %s exists; it must not outlive the entry", p.ref)
	}
	for _, o := range []builder{a, b} {
		if diff := cmp.Diff(readState(t, want, o.ref, o.sku), readState(t, db, o.ref, o.sku)); diff != "" {
			t.Errorf("order %s after the batch differs from one-by-one application (-want +got):\n%s", o.ref, diff)
		}
	}
	if n := countOf(t, db, `SELECT count(*) FROM inbox WHERE status = 'applied'`); n != 4 {
		t.Errorf("%d entries applied, want 4 (the stock level and the three good ones)", n)
	}
	checkLedger(t, db)

	// Running the batch again changes nothing and fails nothing new.
	errs = l.ApplyEntries(ctx, []domain.EntryEvents{entries[0], entries[2], entries[5]})
	for i, err := range errs {
		if err != nil {
			t.Errorf("re-applying entry %d: %v", i, err)
		}
	}
	if n := countOf(t, db, `SELECT count(*) FROM applied_events`); n != 4 {
		t.Errorf("%d applied events after a second run, want 4", n)
	}
}

// TestApplyEntriesConcurrentBatchesMatchSequential runs batches concurrently whose
// orders share SKUs and whose entries come in different orders: none may lose a
// deadlock (no batch falls back), and the end state must be the state the same
// entries reach one by one.
func TestApplyEntriesConcurrentBatchesMatchSequential(t *testing.T) {
	t.Parallel()
	const (
		orders  = 8
		skus    = 4
		lanes   = 4
		rounds  = 6
		onHand  = 1000 // plenty: the outcome does not depend on who is first
		perLane = 8
	)
	ctx := context.Background()
	skuName := func(i int) string { return fmt.Sprintf("SKU-CB-%d", i%skus) }

	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 99))
			want, db := openDB(t), openDB(t)
			wl, l := &postgres.Ledger{DB: want, Grace: time.Hour}, &postgres.Ledger{DB: db, Grace: time.Hour}
			fallbacks := countFallbacks(t, l)
			for s := range skus {
				stock := builder{ref: "stock", sku: skuName(s), t0: t0}.stock(fmt.Sprintf("level-%d", s), 0, onHand)
				apply(t, want, wl, stock)
				apply(t, db, l, stock)
			}

			var refs []string
			for round := range rounds {
				// Each order lists two SKUs it shares with its neighbours; its
				// events arrive shuffled, spread over concurrent batches.
				var evs []domain.Event
				for o := range orders {
					ref := fmt.Sprintf("CB-%d-%d", round, o)
					refs = append(refs, ref)
					b := builder{ref: ref, t0: t0}
					lines := func(q int64) []domain.Line {
						return []domain.Line{{SKU: skuName(o), Quantity: q, UnitPrice: 100}, {SKU: skuName(o + 1), Quantity: 1, UnitPrice: 100}}
					}
					placed := b.base(domain.OrderPlaced, "placed", 1)
					placed.Version, placed.Order = 1, &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: "USD", Total: 300, Lines: lines(2)}
					updated := b.base(domain.OrderUpdated, "updated", 2)
					updated.Version, updated.Order = 2, &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: "USD", Total: 400, Lines: lines(3)}
					evs = append(evs, placed, updated, b.payment(domain.PaymentSucceeded, "paid", 3, 400))
					if o%3 == 0 {
						cancelled := b.base(domain.OrderCancelled, "cancelled", 4)
						cancelled.Version = 4 // a full snapshot: a bare status change depends on what came before
						cancelled.Order = &domain.OrderSnapshot{Status: domain.StatusCancelled, Currency: "USD", Total: 400, Lines: lines(3)}
						evs = append(evs, cancelled)
					}
				}
				for _, ev := range evs {
					apply(t, want, wl, ev)
				}
				rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				batches := make([][]domain.EntryEvents, lanes)
				for i, ev := range evs {
					lane := i % lanes
					batches[lane] = append(batches[lane], domain.EntryEvents{ID: insertEntry(t, db, ev), Events: []domain.Event{ev}})
					if i%5 == 0 { // delivered again, as its own entry: in this batch and in another
						batches[lane] = append(batches[lane], domain.EntryEvents{ID: insertEntry(t, db, ev), Events: []domain.Event{ev}})
						other := (lane + 1) % lanes
						batches[other] = append(batches[other], domain.EntryEvents{ID: insertEntry(t, db, ev), Events: []domain.Event{ev}})
					}
				}
				var wg sync.WaitGroup
				errs := make([][]error, lanes)
				for lane := range lanes {
					wg.Go(func() { errs[lane] = l.ApplyEntries(ctx, batches[lane]) })
				}
				wg.Wait()
				for lane := range lanes {
					for i, err := range errs[lane] {
						if err != nil {
							t.Errorf("round %d, batch %d, entry %d: %v", round, lane, i, err)
						}
					}
				}
			}
			if n := fallbacks("savepoints") + fallbacks("singles"); n != 0 {
				t.Errorf("%d batches failed as a whole (deadlock or serialization); locks must be taken in one order", n)
			}
			for _, ref := range refs {
				for s := range skus {
					if diff := cmp.Diff(readState(t, want, ref, skuName(s)), readState(t, db, ref, skuName(s))); diff != "" {
						t.Errorf("order %s, %s: batches differ from one by one (-want +got):\n%s", ref, skuName(s), diff)
					}
				}
			}
			for _, q := range []string{
				`SELECT count(*) FROM applied_events`,
				`SELECT count(*) FROM conflicts`,
			} {
				if w, g := countOf(t, want, q), countOf(t, db, q); w != g {
					t.Errorf("%s: %d, want %d", q, g, w)
				}
			}
			checkLedger(t, db)
		})
	}
}

func countOf(t testing.TB, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

type deliveryRow struct {
	Destination string `db:"destination"`
	Type        string `db:"event_type"`
	Key         string `db:"event_key"`
	OrderRef    string `db:"order_ref"`
	Sequence    int64  `db:"sequence"`
}

func allDeliveries(t *testing.T, db *sqlx.DB) []deliveryRow {
	t.Helper()
	var rows []deliveryRow
	if err := db.Select(&rows, `SELECT destination, event_type, event_key, COALESCE(order_ref, '') AS order_ref, sequence
		FROM deliveries ORDER BY destination, event_key`); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestApplyEntriesWritesDeliveriesAndMoneyFacts: a batch writes the deliveries and
// the refund and dispute facts applying its entries one by one writes — the
// orders' downstream events, their sequence numbers and the stock pushes, a
// failed refund that stops counting, restocked lines and a lost dispute.
func TestApplyEntriesWritesDeliveriesAndMoneyFacts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dests := []domain.Destination{{ID: "crm", Kind: domain.DestinationWebhook}}
	var lives [][]domain.Event
	var orders []builder
	for i := range 4 {
		b := builder{ref: fmt.Sprintf("DL-%d", i), sku: "SKU-DL", t0: t0}
		orders = append(orders, b)
		life := []domain.Event{b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 2, 500), b.payment(domain.PaymentSucceeded, "paid", 5, 1000)}
		switch i {
		case 1:
			r := b.refund("r1", 30, 500, false)
			r.Payment.RestockLines = []domain.RestockLine{{SKU: b.sku, Quantity: 1}}
			life = append(life, r)
		case 2:
			failed := b.refund("r1", 31, 1000, false)
			failed.Type, failed.EventID = domain.RefundFailed, b.ref+":r1-failed"
			life = append(life, b.refund("r1", 30, 1000, false), failed)
		case 3:
			d := b.payment(domain.DisputeClosed, "lost", 40, 0)
			d.Payment, d.Dispute = nil, &domain.Dispute{Ref: "dp_" + b.ref, Amount: 1000, Currency: "USD", Status: "lost", Outcome: domain.DisputeLost, Stage: 3}
			life = append(life, d)
		}
		lives = append(lives, life)
	}
	// Arrival: the orders' lives interleaved, each order's in its own order.
	var arrival []domain.Event
	for k := 0; ; k++ {
		n := 0
		for _, life := range lives {
			if k < len(life) {
				arrival, n = append(arrival, life[k]), n+1
			}
		}
		if n == 0 {
			break
		}
	}

	want := openDB(t)
	wl := &postgres.Ledger{DB: want, Destinations: dests}
	apply(t, want, wl, orders[0].stock("stock", 0, 10))
	for _, ev := range arrival {
		apply(t, want, wl, ev)
	}

	db := openDB(t)
	l := &postgres.Ledger{DB: db, Destinations: dests}
	fallbacks := countFallbacks(t, l)
	apply(t, db, l, orders[0].stock("stock", 0, 10))
	var entries []domain.EntryEvents
	for _, ev := range arrival {
		entries = append(entries, domain.EntryEvents{ID: insertEntry(t, db, ev), Events: []domain.Event{ev}})
	}
	for i, err := range l.ApplyEntries(ctx, entries) {
		if err != nil {
			t.Errorf("entry %d (%s): %v", i, entries[i].Events[0].EventID, err)
		}
	}
	if n := fallbacks("savepoints") + fallbacks("singles"); n != 0 {
		t.Errorf("%d batches failed as a whole", n)
	}
	if diff := cmp.Diff(allDeliveries(t, want), allDeliveries(t, db)); diff != "" {
		t.Errorf("deliveries of the batch differ from one by one (-want +got):\n%s", diff)
	}
	for _, b := range orders {
		if diff := cmp.Diff(readState(t, want, b.ref, b.sku), readState(t, db, b.ref, b.sku)); diff != "" {
			t.Errorf("order %s after the batch differs from one by one (-want +got):\n%s", b.ref, diff)
		}
	}
	for _, q := range []string{
		`SELECT count(*) FROM refunds WHERE failed`,
		`SELECT count(*) FROM refunds WHERE restock_lines <> '[]'`,
		`SELECT count(*) FROM disputes WHERE outcome = 'lost'`,
		`SELECT count(*) FROM orders WHERE payment_status = 'charged_back'`,
	} {
		if w, g := countOf(t, want, q), countOf(t, db, q); w != g || w == 0 {
			t.Errorf("%s: %d, want %d (and not 0)", q, g, w)
		}
	}
	checkLedger(t, db)
}
