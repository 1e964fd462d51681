package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

type outboxRow struct {
	Destination string `db:"destination"`
	Type        string `db:"event_type"`
	Sequence    int64  `db:"sequence"`
}

func outbox(t *testing.T, l *postgres.Ledger, ref string) []outboxRow {
	t.Helper()
	var rows []outboxRow
	if err := l.DB.Select(&rows, `SELECT destination, event_type, sequence FROM deliveries
		WHERE order_ref = $1 AND event_type <> 'stock.changed' ORDER BY id`, ref); err != nil {
		t.Fatal(err)
	}
	return rows
}

// Each applied decision a destination wants becomes one delivery row, written in
// the decision's transaction; the same fact told twice (a duplicated webhook, or
// a second provider event for the same capture) makes no second delivery.
func TestOutboxWritesEachFactOncePerDestination(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db, Destinations: []domain.Destination{
		{ID: "crm", Kind: domain.DestinationWebhook},
		{ID: "paid-only", Kind: domain.DestinationWebhook, Events: []domain.DownstreamType{domain.DownOrderPaid}},
	}}
	b := builder{ref: "D1", sku: "SKU-D1", t0: t0}
	apply(t, db, l, b.stock("stock", 0, 10))
	apply(t, db, l, b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 2, 500))
	apply(t, db, l, b.payment(domain.PaymentSucceeded, "paid", 5, 1000))
	apply(t, db, l, b.payment(domain.PaymentSucceeded, "paid-again", 6, 1000))             // another event, the same capture
	apply(t, db, l, b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 2, 500)) // a duplicate
	apply(t, db, l, b.refund("r1", 9, 1000, true))
	want := []outboxRow{
		{"crm", "order.placed", 1},
		{"crm", "order.paid", 2},
		{"paid-only", "order.paid", 2},
		{"crm", "order.refunded", 3},
	}
	if diff := cmp.Diff(want, outbox(t, l, "D1")); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	var stock int
	if err := db.Get(&stock, `SELECT count(*) FROM deliveries WHERE event_type = 'stock.changed' AND destination = 'crm'`); err != nil {
		t.Fatal(err)
	}
	if stock == 0 {
		t.Errorf("no stock.changed delivery for SKU-D1")
	}
	var ids []string
	if err := db.Select(&ids, `SELECT DISTINCT webhook_id FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	var n int
	_ = db.Get(&n, `SELECT count(*) FROM deliveries`)
	if len(ids) != n {
		t.Errorf("%d webhook ids for %d deliveries; want one each", len(ids), n)
	}
}

// A rolled-back apply leaves no delivery behind.
func TestOutboxRollsBackWithTheDecision(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db, Destinations: []domain.Destination{{ID: "crm", Kind: domain.DestinationWebhook}}}
	b := builder{ref: "E1", sku: "SKU-E1", t0: t0}
	ev := b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 1, 100)
	bad := b.base(domain.OrderUpdated, "bad", 2) // no snapshot and no ref: applyOrder fails after the first event
	bad.OrderRef = ""
	ctx := context.Background()
	res, err := (&postgres.Inbox{DB: db}).Insert(ctx, []domain.InboxEntry{{Source: "test", Provider: "test", EventID: "E1-entry",
		EventType: "x", Body: []byte("{}"), ReceivedAt: t0, Status: domain.InboxReceived}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.ApplyEntry(ctx, res[0].ID, []domain.Event{ev, bad}); err == nil {
		t.Fatal("apply succeeded; want the bad event to fail it")
	}
	if got := outbox(t, l, "E1"); len(got) != 0 {
		t.Errorf("deliveries after a rolled-back apply: %v", got)
	}
	apply(t, db, l, ev)
	if diff := cmp.Diff([]outboxRow{{"crm", "order.placed", 1}}, outbox(t, l, "E1")); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

func TestDeliveriesStoreRecordsAttemptsAndRetries(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db, Destinations: []domain.Destination{{ID: "crm", Kind: domain.DestinationWebhook}}}
	apply(t, db, l, builder{ref: "F1", sku: "SKU-F1", t0: t0}.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 1, 100))
	s := &postgres.Deliveries{DB: db}
	ctx := context.Background()
	list, err := s.List(ctx, domain.DeliveryFilter{Destination: "crm", OrderRef: "F1"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v, %v", list, err)
	}
	id := list[0].ID
	for i := 1; i <= 2; i++ {
		o, err := s.BeginAttempt(ctx, id)
		if err != nil || o.Attempts != i {
			t.Fatalf("begin attempt %d: %+v %v", i, o, err)
		}
		status := domain.DeliveryFailed
		if i == 2 {
			status = domain.DeliveryDead
		}
		if _, err := s.FinishAttempt(ctx, id, domain.DeliveryOutcome{Status: status,
			Attempt: domain.DeliveryAttempt{At: t0, StatusCode: 500, Error: fmt.Sprintf("HTTP 500 #%d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	o, attempts, err := s.Delivery(ctx, id)
	if err != nil || o.Status != domain.DeliveryDead || len(attempts) != 2 || o.LastError != "HTTP 500 #2" {
		t.Fatalf("after two failures: %+v %+v %v", o, attempts, err)
	}
	again, err := s.RetryMatching(ctx, "crm", domain.DeliveryDead, t0.AddDate(-1, 0, 0), t0.AddDate(10, 0, 0), 0, domain.RetryPage)
	if err != nil || len(again) != 1 || again[0].Attempts != 0 || again[0].Status != domain.DeliveryPending || again[0].WebhookID != o.WebhookID {
		t.Fatalf("bulk retry: %+v %v; want it pending, attempts from zero, the same webhook id", again, err)
	}
	// The attempt after a replay is added to the history; the dead letter's
	// attempts stay as they were.
	if _, err := s.BeginAttempt(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishAttempt(ctx, id, domain.DeliveryOutcome{Status: domain.DeliveryDelivered,
		Attempt: domain.DeliveryAttempt{At: t0, StatusCode: 200}}); err != nil {
		t.Fatal(err)
	}
	_, attempts, err = s.Delivery(ctx, id)
	var codes []int
	for _, a := range attempts {
		codes = append(codes, a.StatusCode)
	}
	if err != nil || !slices.Equal(codes, []int{500, 500, 200}) {
		t.Errorf("attempts after the replay = %v (%v), want [500 500 200]: the replay must not overwrite the history", codes, err)
	}
	if _, err := s.Retry(ctx, 999999); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("retry of no delivery: %v, want ENOTFOUND", err)
	}
}

// A level set by hand (PUT /api/v1/inventory/{sku}) is a stock change too; a
// stock destination keeps one pending push per SKU however many there are.
func TestManualLevelMakesAStockDelivery(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	dests := []domain.Destination{{ID: "hook", Kind: domain.DestinationWebhook}, {ID: "shop", Kind: domain.DestinationShopifyInventory,
		Events: []domain.DownstreamType{domain.DownStockChanged}}}
	inv := &postgres.Inventory{DB: db, Destinations: dests}
	for i, level := range []int64{5, 7, 9} {
		if _, err := inv.SetOnHand(context.Background(), "MAN-1", level, t0.Add(time.Duration(i)*time.Second), "manual"); err != nil {
			t.Fatal(err)
		}
	}
	var rows []struct {
		Destination string `db:"destination"`
		N           int    `db:"n"`
		Generation  int    `db:"generation"`
	}
	if err := db.Select(&rows, `SELECT destination, count(*) AS n, max(generation) AS generation FROM deliveries
		WHERE sku = 'MAN-1' GROUP BY destination ORDER BY destination`); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		Destination string `db:"destination"`
		N           int    `db:"n"`
		Generation  int    `db:"generation"`
	}{{"hook", 3, 0}, {"shop", 1, 2}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("stock deliveries (-want +got):\n%s", diff)
	}
}

// A bulk retry of a long outage's dead letters goes a page at a time: each page
// its own statement, none larger than domain.RetryPage, and every delivery
// retried once, whatever the destination's other deliveries.
func TestBulkRetryGoesAPageAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	const dead = 2*domain.RetryPage + 500
	if _, err := db.Exec(`
		INSERT INTO deliveries (destination, event_type, event_key, webhook_id, status, attempts, created_at, updated_at)
		SELECT CASE WHEN g % 7 = 0 THEN 'other' ELSE 'crm' END, 'order.paid', 'order.paid/' || g, 'msg_' || g,
			CASE WHEN g % 5 = 0 THEN 'delivered' ELSE 'dead' END, 3, now(), now()
		FROM generate_series(1, $1) g`, dead*2); err != nil {
		t.Fatal(err)
	}
	var want int
	if err := db.Get(&want, `SELECT count(*) FROM deliveries WHERE destination = 'crm' AND status = 'dead'`); err != nil {
		t.Fatal(err)
	}
	var pages []int
	seen := map[int64]bool{}
	n, err := domain.RetryAll(ctx, &postgres.Deliveries{DB: db}, "crm", domain.DeliveryDead, time.Time{}, time.Time{},
		func(page []domain.Outbound) error {
			pages = append(pages, len(page))
			for _, o := range page {
				if seen[o.ID] || o.Destination != "crm" || o.Status != domain.DeliveryPending || o.Attempts != 0 {
					return fmt.Errorf("delivery %d: seen before %v, %+v", o.ID, seen[o.ID], o)
				}
				seen[o.ID] = true
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if n != want || len(seen) != want {
		t.Errorf("retried %d (%d distinct), want %d", n, len(seen), want)
	}
	for i, p := range pages {
		if p > domain.RetryPage {
			t.Errorf("page %d held %d deliveries, want at most %d", i, p, domain.RetryPage)
		}
	}
	var left int
	if err := db.Get(&left, `SELECT count(*) FROM deliveries WHERE destination = 'crm' AND status = 'dead'`); err != nil || left != 0 {
		t.Errorf("%d dead deliveries left (%v), want none", left, err)
	}
}
