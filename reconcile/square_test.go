package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/adapters/square"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
	"github.com/tradewind/tradewind/reconcile"
)

type squareEnv struct {
	t     *testing.T
	db    *sqlx.DB
	fake  *square.FakeAPI
	src   domain.Source
	inbox *postgres.Inbox
	apply *jobs.ProcessWebhook
	rec   *reconcile.Reconciler
	slept []time.Duration
}

func newSquareEnv(t *testing.T) *squareEnv {
	t.Helper()
	e := &squareEnv{t: t, db: pgtest.Open(t, 8), fake: &square.FakeAPI{Token: "EAAA-reconcile"}}
	srv := httptest.NewServer(e.fake)
	t.Cleanup(srv.Close)
	e.src = domain.Source{ID: "acme-square", Provider: "square", Secrets: []string{"sig-key"},
		Settings: map[string]string{"notification_url": "https://shop.example.com/webhooks/acme-square", "access_token": "EAAA-reconcile", "api_base_url": srv.URL}}
	e.inbox = &postgres.Inbox{DB: e.db}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.apply = &jobs.ProcessWebhook{
		Inbox: e.inbox, Applier: &postgres.Ledger{DB: e.db, Now: func() time.Time { return now }},
		Sources:   domain.Sources{e.src.ID: e.src},
		Providers: registry.New(), Logger: logger,
	}
	e.rec = reconcile.New(reconcile.Params{
		Store: &postgres.ReconcileStore{DB: e.db, PageSize: 50, Now: func() time.Time { return now }}, Reports: &postgres.Reconciliations{DB: e.db},
		Sources:  func() []domain.Source { return []domain.Source{e.src} },
		Provider: lookup,
		Apply: func(ctx context.Context, id int64) error {
			return e.apply.ProcessTask(ctx, jobs.NewProcessWebhookTask(id, jobs.QueueCritical))
		},
		Sleep:  func(_ context.Context, d time.Duration) error { e.slept = append(e.slept, d); return nil },
		Now:    func() time.Time { return now },
		Logger: logger,
	})
	return e
}

// sqPayment is one of the day's Square payments, as Square knows it.
type sqPayment struct {
	id, order string
	at        time.Time
	cents     int64
	refunds   int // refunds of the whole amount, split evenly
}

func (p sqPayment) object(refunded bool) map[string]any {
	o := map[string]any{"id": p.id, "created_at": p.at.Format(time.RFC3339Nano), "updated_at": p.at.Add(time.Second).Format(time.RFC3339Nano),
		"amount_money": map[string]any{"amount": p.cents, "currency": "USD"}, "total_money": map[string]any{"amount": p.cents, "currency": "USD"},
		"status": "COMPLETED", "source_type": "CARD", "location_id": "L1", "order_id": p.order, "version": 3}
	if refunded && p.refunds > 0 {
		var ids []string
		for i := range p.refunds {
			ids = append(ids, fmt.Sprintf("RF-%s-%d", p.id, i))
		}
		o["refunded_money"] = map[string]any{"amount": p.cents, "currency": "USD"}
		o["refund_ids"] = ids
		o["updated_at"] = p.at.Add(time.Minute).Format(time.RFC3339Nano)
		o["version"] = 5
	}
	return o
}

// listed is the Payment Square lists: refunded as it is now.
func (p sqPayment) listed() json.RawMessage { return mustJSON(p.object(true)) }

func (p sqPayment) paymentEvent() json.RawMessage {
	return mustJSON(map[string]any{"merchant_id": "M1", "type": "payment.updated", "event_id": "sq-p-" + p.id,
		"created_at": p.at.Add(time.Second).Format(time.RFC3339Nano),
		"data":       map[string]any{"type": "payment", "id": p.id, "object": map[string]any{"payment": p.object(false)}}})
}

func (p sqPayment) refundEvent(i int, cents int64) json.RawMessage {
	id := fmt.Sprintf("RF-%s-%d", p.id, i)
	at := p.at.Add(time.Minute).Format(time.RFC3339Nano)
	return mustJSON(map[string]any{"merchant_id": "M1", "type": "refund.updated", "event_id": "sq-r-" + id, "created_at": at,
		"data": map[string]any{"type": "refund", "id": id, "object": map[string]any{"refund": map[string]any{"id": id, "status": "COMPLETED",
			"amount_money": map[string]any{"amount": cents, "currency": "USD"}, "payment_id": p.id, "order_id": p.order,
			"created_at": at, "updated_at": at, "version": 1}}}})
}

func (e *squareEnv) deliver(raw json.RawMessage) {
	e.t.Helper()
	var h struct {
		ID        string `json:"event_id"`
		Type      string `json:"type"`
		CreatedAt string `json:"created_at"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		e.t.Fatal(err)
	}
	at, _ := time.Parse(time.RFC3339Nano, h.CreatedAt)
	res, err := e.inbox.Insert(context.Background(), []domain.InboxEntry{{Source: e.src.ID, Provider: "square", EventID: h.ID,
		EventType: h.Type, Body: raw, OccurredAt: at, ReceivedAt: now, Status: domain.InboxReceived}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.apply.ProcessTask(context.Background(), jobs.NewProcessWebhookTask(res[0].ID, jobs.QueueCritical)); err != nil {
		e.t.Fatal(err)
	}
}

// deliverAll delivers p's webhooks: the payment, and each refund.
func (e *squareEnv) deliverAll(p sqPayment) {
	e.deliver(p.paymentEvent())
	for i := range p.refunds {
		e.deliver(p.refundEvent(i, p.cents/int64(p.refunds)))
	}
}

func (e *squareEnv) run(dryRun bool) domain.Reconciliation {
	e.t.Helper()
	ctx := context.Background()
	rep, err := e.rec.Start(ctx, reconcile.Request{Since: now.Add(-24 * time.Hour), Until: now, DryRun: dryRun})
	if err != nil {
		e.t.Fatal(err)
	}
	rep, err = e.rec.Run(ctx, rep.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

func (e *squareEnv) paymentStatus(order string) string {
	var s string
	if err := e.db.Get(&s, `SELECT payment_status FROM orders WHERE ref = $1`, order); err != nil {
		return "none"
	}
	return s
}

// day lists n payments over the window (every 7th refunded once) and delivers
// the webhooks of all but those skip names; it returns the skipped ones.
func (e *squareEnv) day(n int, skip func(i int) bool) []sqPayment {
	start := now.Add(-24 * time.Hour)
	var missed []sqPayment
	for i := range n {
		p := sqPayment{id: fmt.Sprintf("SQP%05d", i), order: fmt.Sprintf("SQO%05d", i), at: start.Add(time.Duration(i)*400*time.Second + 250*time.Millisecond),
			cents: 1000 + int64(i)}
		if i%7 == 0 {
			p.refunds = 1
		}
		e.fake.AddPayment(p.listed())
		if skip(i) {
			missed = append(missed, p)
			continue
		}
		e.deliverAll(p)
	}
	return missed
}

// TestSquareRepairsWhatWebhooksMissed: a day of Square payments, some
// refunded, of which one in twenty never arrived as webhooks. Each is repaired
// from the Payment Square lists, as payment.updated (and refund.updated for its
// one refund) under the reconciliation's own event ids, through the apply path;
// a second run repairs none.
func TestSquareRepairsWhatWebhooksMissed(t *testing.T) {
	t.Parallel()
	e := newSquareEnv(t)
	missed := e.day(200, func(i int) bool { return i%20 == 3 || i == 14 })
	got := source(t, e.run(false))
	if got.Missing != len(missed) || got.Repaired != len(missed) || got.Mismatched != 0 || got.Conflicts != 0 || got.Compared != 200 {
		t.Errorf("first run: %+v; want %d missing payments all repaired of 200 compared, nothing in conflict", got, len(missed))
	}
	for _, p := range missed {
		want := "paid"
		if p.refunds > 0 {
			want = "refunded"
		}
		if s := e.paymentStatus(p.order); s != want {
			t.Errorf("order %s: payment_status %s; want %s", p.order, s, want)
		}
		_, evs, err := (&postgres.Orders{DB: e.db}).Order(context.Background(), p.order)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Errorf("order %s: no events", p.order)
		}
		for _, ev := range evs {
			if ev.Origin != domain.OriginReconciliation || !strings.HasPrefix(ev.EventID, "reconciliation:"+p.id+":") {
				t.Errorf("order %s event %s: origin %q; want reconciliation, under reconciliation:%s:…", p.order, ev.EventID, ev.Origin, p.id)
			}
		}
	}
	again := source(t, e.run(false))
	if again.Missing != 0 || again.Repaired != 0 || again.Conflicts != 0 || again.Mismatched != 0 {
		t.Errorf("second run: %+v; want nothing missing, repaired or in conflict", again)
	}
	// The real webhooks arriving late change nothing more.
	for _, p := range missed {
		e.deliverAll(p)
	}
	if late := source(t, e.run(false)); late.Mismatched != 0 || late.Missing != 0 {
		t.Errorf("after the late webhooks: %+v; want nothing mismatched", late)
	}
	for _, p := range missed {
		if p.refunds > 0 {
			held, err := (&postgres.ReconcileStore{DB: e.db}).Payments(context.Background(), "square", []string{p.id})
			if err != nil {
				t.Fatal(err)
			}
			if len(held) != 1 || held[0].Refunded != p.cents {
				t.Errorf("payment %s: %+v after the late refund webhook; want %d refunded, counted once", p.id, held, p.cents)
			}
		}
	}
}

// TestSquareMismatches: Square says refunded where Tradewind says paid, or
// another amount: conflicts naming both; a missing payment refunded over two
// refunds is repaired and its refunds reported.
func TestSquareMismatches(t *testing.T) {
	t.Parallel()
	e := newSquareEnv(t)
	start := now.Add(-20 * time.Hour)
	refunded := sqPayment{id: "SQ-REFUNDED", order: "A", at: start, cents: 5000, refunds: 1}
	amount := sqPayment{id: "SQ-AMOUNT", order: "B", at: start.Add(time.Minute), cents: 7000}
	split := sqPayment{id: "SQ-SPLIT", order: "C", at: start.Add(2 * time.Minute), cents: 4000, refunds: 2}
	for _, p := range []sqPayment{refunded, amount, split} {
		e.fake.AddPayment(p.listed())
	}
	e.deliver(refunded.paymentEvent()) // its refund's webhook never arrived
	wrong := amount
	wrong.cents = 6500
	e.deliver(wrong.paymentEvent())

	got := source(t, e.run(false))
	want := domain.SourceReport{Source: "acme-square", Compared: 3, Missing: 1, Mismatched: 3, Conflicts: 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if s := e.paymentStatus("C"); s != "paid" {
		t.Errorf("order C: payment_status %s; want paid (the payment repaired, its two refunds reported)", s)
	}
	cs, err := (&postgres.Conflicts{DB: e.db}).List(context.Background(), domain.ConflictFilter{Kind: domain.ConflictReconciliationMismatch})
	if err != nil {
		t.Fatal(err)
	}
	details := map[string]string{}
	for _, c := range cs {
		details[c.OrderRef] = c.Detail
	}
	for ref, both := range map[string][]string{"A": {"provider refunded", "Tradewind paid"}, "B": {"provider 7000", "Tradewind 6500"}, "C": {"2 refunds"}} {
		for _, s := range both {
			if !strings.Contains(details[ref], s) {
				t.Errorf("order %s conflict %q; want it to name %q", ref, details[ref], s)
			}
		}
	}
	again := source(t, e.run(false))
	if again.Repaired != 0 || again.Missing != 0 {
		t.Errorf("second run: %+v; want nothing repaired", again)
	}
}

// TestSquareRateLimitedAndFailingPages: Square answers 429 and a page fails
// once; the run completes with the retried error in its report.
func TestSquareRateLimitedAndFailingPages(t *testing.T) {
	t.Parallel()
	e := newSquareEnv(t)
	e.day(150, func(i int) bool { return i%10 == 0 })
	e.fake.RateLimit(1)
	e.fake.FailOnce("100")
	rep := e.run(false)
	got := source(t, rep)
	if got.Missing != 15 || got.Repaired != 15 || got.Compared != 150 {
		t.Errorf("report %+v; want 15 missing, 15 repaired, 150 compared", got)
	}
	errs := strings.Join(rep.Sources[0].Errors, "\n")
	for _, s := range []string{"429", "HTTP 500"} {
		if !strings.Contains(errs, s) {
			t.Errorf("report errors %q; want one naming %s", errs, s)
		}
	}
	if len(e.slept) == 0 {
		t.Errorf("the 429 was not waited out")
	}
}

// TestSquareDryRunChangesNothing: a dry run reports what it would repair and changes nothing.
func TestSquareDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := newSquareEnv(t)
	e.day(20, func(i int) bool { return i%4 == 0 })
	snapshot := func() string {
		var s string
		if err := e.db.Get(&s, `SELECT concat_ws('|', (SELECT count(*) FROM inbox), (SELECT count(*) FROM applied_events),
			(SELECT count(*) FROM conflicts), (SELECT string_agg(ref || payment_status, ',' ORDER BY ref) FROM orders))`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := snapshot()
	if got := source(t, e.run(true)); got.Missing != 5 || got.Repaired != 0 {
		t.Errorf("dry run: %+v; want 5 missing, 0 repaired", got)
	}
	if after := snapshot(); after != before {
		t.Errorf("the dry run changed the database:\nbefore %s\nafter  %s", before, after)
	}
	if got := source(t, e.run(false)); got.Repaired != 5 {
		t.Errorf("real run: %+v; want 5 repaired", got)
	}
}
