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

	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
	"github.com/tradewind/tradewind/reconcile"
)

type paypalEnv struct {
	t     *testing.T
	db    *sqlx.DB
	fake  *paypal.FakeAPI
	src   domain.Source
	inbox *postgres.Inbox
	apply *jobs.ProcessWebhook
	rec   *reconcile.Reconciler
	slept []time.Duration
}

func newPayPalEnv(t *testing.T) *paypalEnv {
	t.Helper()
	e := &paypalEnv{t: t, db: pgtest.Open(t, 8), fake: paypal.NewFakeAPI("AXclient", "secret-x")}
	srv := httptest.NewServer(e.fake)
	t.Cleanup(srv.Close)
	e.src = domain.Source{ID: "acme-paypal", Provider: "paypal",
		Settings: map[string]string{"webhook_id": "4JH86294D6297924G", "client_id": "AXclient", "client_secret": "secret-x", "api_base_url": srv.URL}}
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

// capture is one of the day's PayPal captures.
type capture struct {
	id, order string
	at        time.Time
	cents     int64
	refunded  bool
}

func ppAmount(cents int64) map[string]string {
	return map[string]string{"currency_code": "USD", "value": fmt.Sprintf("%d.%02d", cents/100, cents%100)}
}

func ppEvent(id, typ string, at time.Time, resource map[string]any) json.RawMessage {
	return mustJSON(map[string]any{"id": id, "create_time": at.Format("2006-01-02T15:04:05.000Z07:00"), "resource_type": "capture",
		"event_type": typ, "event_version": "1.0", "resource_version": "2.0", "summary": typ, "resource": resource})
}

func (c capture) completed() json.RawMessage {
	return ppEvent("WH-C-"+c.id, "PAYMENT.CAPTURE.COMPLETED", c.at, map[string]any{"id": c.id, "status": "COMPLETED",
		"amount": ppAmount(c.cents), "custom_id": c.order, "final_capture": true})
}

func (c capture) refund() json.RawMessage {
	return ppEvent("WH-R-"+c.id, "PAYMENT.CAPTURE.REFUNDED", c.at.Add(90*time.Second), map[string]any{"id": "R-" + c.id, "status": "COMPLETED",
		"amount": ppAmount(c.cents), "custom_id": c.order,
		"links": []map[string]string{{"rel": "up", "method": "GET", "href": "https://api-m.paypal.com/v2/payments/captures/" + c.id}}})
}

// list puts raw on the fake PayPal, as its own copy of the event.
func (e *paypalEnv) list(raw json.RawMessage) {
	e.t.Helper()
	if err := e.fake.Add(raw); err != nil {
		e.t.Fatal(err)
	}
}

func (e *paypalEnv) deliver(raw json.RawMessage) {
	e.t.Helper()
	h, err := paypal.Head(raw)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.inbox.Insert(context.Background(), []domain.InboxEntry{{Source: e.src.ID, Provider: "paypal", EventID: h.ID,
		EventType: h.Type, Body: raw, OccurredAt: h.Created, ReceivedAt: now, Status: domain.InboxReceived}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.apply.ProcessTask(context.Background(), jobs.NewProcessWebhookTask(res[0].ID, jobs.QueueCritical)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *paypalEnv) run(dryRun bool) domain.Reconciliation {
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

func (e *paypalEnv) paymentStatus(order string) string {
	var s string
	if err := e.db.Get(&s, `SELECT payment_status FROM orders WHERE ref = $1`, order); err != nil {
		return "none"
	}
	return s
}

// day lists n captures over the window (every 7th refunded) and delivers all
// but those for which skip says so; it returns the skipped ones.
func (e *paypalEnv) day(n int, skip func(i int) bool) []capture {
	start := now.Add(-24 * time.Hour)
	var missed []capture
	for i := range n {
		c := capture{id: fmt.Sprintf("CAP%05d", i), order: fmt.Sprint(7000 + i), at: start.Add(time.Duration(i)*400*time.Second + 123*time.Millisecond),
			cents: 1000 + int64(i), refunded: i%7 == 0}
		e.list(c.completed())
		if c.refunded {
			e.list(c.refund())
		}
		if skip(i) {
			missed = append(missed, c)
			continue
		}
		e.deliver(c.completed())
		if c.refunded {
			e.deliver(c.refund())
		}
	}
	return missed
}

// TestPayPalRepairsWhatWebhooksMissed: a day of PayPal captures, some refunded,
// of which one in twenty never arrived as webhooks. The run lists PayPal's
// webhook events and repairs every missing one through the apply path (origin
// reconciliation); a second run repairs none, and a late webhook is a duplicate.
func TestPayPalRepairsWhatWebhooksMissed(t *testing.T) {
	t.Parallel()
	e := newPayPalEnv(t)
	missed := e.day(200, func(i int) bool { return i%20 == 3 })
	e.list(ppEvent("WH-IGNORED", "BILLING.PLAN.CREATED", now.Add(-time.Hour), map[string]any{"id": "P-1"})) // not a handled type

	rep := e.run(false)
	want := 0
	for _, c := range missed {
		want++
		if c.refunded {
			want++
		}
	}
	got := source(t, rep)
	if got.Missing != want || got.Repaired != want || got.Mismatched != 0 || got.Conflicts != 0 || got.Compared != 200+29 {
		t.Errorf("first run: %+v; want %d missing events all repaired of 229 compared, nothing in conflict (errors %q)", got, want, rep.Sources[0].Errors)
	}
	for _, c := range missed {
		wantStatus := "paid"
		if c.refunded {
			wantStatus = "refunded"
		}
		if s := e.paymentStatus(c.order); s != wantStatus {
			t.Errorf("order %s: payment_status %s; want %s", c.order, s, wantStatus)
		}
		_, evs, err := (&postgres.Orders{DB: e.db}).Order(context.Background(), c.order)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Origin != domain.OriginReconciliation {
				t.Errorf("order %s event %s: origin %q; want reconciliation", c.order, ev.EventID, ev.Origin)
			}
		}
	}
	if e.fake.ListRequests() != 3 { // 229 events, 100 a page
		t.Errorf("%d list requests; want 3 pages", e.fake.ListRequests())
	}

	again := source(t, e.run(false))
	if again.Missing != 0 || again.Repaired != 0 || again.Conflicts != 0 {
		t.Errorf("second run: %+v; want nothing missing, repaired or in conflict", again)
	}
	res, err := e.inbox.Insert(context.Background(), []domain.InboxEntry{{Source: e.src.ID, Provider: "paypal",
		EventID: "WH-C-" + missed[0].id, EventType: "PAYMENT.CAPTURE.COMPLETED", Body: missed[0].completed(),
		ReceivedAt: now, Status: domain.InboxReceived}})
	if err != nil || res[0].New {
		t.Errorf("late webhook: %+v, %v; want a duplicate", res, err)
	}
}

// TestPayPalUnknownEvent: an event Tradewind holds that PayPal does not list
// is a conflict naming it, recorded once over two runs.
func TestPayPalUnknownEvent(t *testing.T) {
	t.Parallel()
	e := newPayPalEnv(t)
	e.day(3, func(int) bool { return false })
	ghost := capture{id: "CAPGHOST", order: "9999", at: now.Add(-2 * time.Hour), cents: 500}
	e.deliver(ghost.completed()) // not on PayPal: its confirmation fails, the entry stays held
	got := source(t, e.run(false))
	want := domain.SourceReport{Source: "acme-paypal", Compared: 4 + 1, Conflicts: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	cs, err := (&postgres.Conflicts{DB: e.db}).List(context.Background(), domain.ConflictFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || !strings.Contains(cs[0].Detail, "WH-C-CAPGHOST") || !strings.Contains(cs[0].Detail, "PayPal does not list it") {
		t.Errorf("conflicts %+v; want one naming WH-C-CAPGHOST as not listed by PayPal", cs)
	}
	e.run(false)
	if cs, _ := (&postgres.Conflicts{DB: e.db}).List(context.Background(), domain.ConflictFilter{}); len(cs) != 1 {
		t.Errorf("%d conflicts after two runs; want the same 1", len(cs))
	}
}

// TestPayPalRateLimitedAndFailingPages: PayPal answers 429 (waited out on the
// injected clock) and a page fails once; the run completes with the retried
// error in its report and everything compared.
func TestPayPalRateLimitedAndFailingPages(t *testing.T) {
	t.Parallel()
	e := newPayPalEnv(t)
	e.day(150, func(i int) bool { return i%10 == 0 }) // 150 + 22 refunds: two pages
	e.fake.RateLimit(1)
	e.fake.FailOnce(100)
	rep := e.run(false)
	got := source(t, rep)
	if got.Missing != 15+3 || got.Repaired != 15+3 || got.Compared != 172 {
		t.Errorf("report %+v; want 18 missing (15 captures, 3 refunds), 18 repaired, 172 compared", got)
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

// TestPayPalDryRunChangesNothing: a dry run reports what it would repair and
// changes nothing; a window older than PayPal's 30 days is reported, not compared.
func TestPayPalDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := newPayPalEnv(t)
	e.day(20, func(i int) bool { return i%4 == 1 })
	snapshot := func() string {
		var s string
		if err := e.db.Get(&s, `SELECT concat_ws('|', (SELECT count(*) FROM inbox), (SELECT count(*) FROM applied_events),
			(SELECT count(*) FROM conflicts), (SELECT string_agg(ref || payment_status, ',' ORDER BY ref) FROM orders))`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := snapshot()
	rep := e.run(true)
	if got := source(t, rep); got.Missing != 5 || got.Repaired != 0 {
		t.Errorf("dry run: %+v; want 5 missing, 0 repaired", got)
	}
	if after := snapshot(); after != before {
		t.Errorf("the dry run changed the database:\nbefore %s\nafter  %s", before, after)
	}
	if got := source(t, e.run(false)); got.Repaired != 5 {
		t.Errorf("real run: %+v; want 5 repaired", got)
	}

	ctx := context.Background()
	old, err := e.rec.Start(ctx, reconcile.Request{Since: now.Add(-40 * 24 * time.Hour), Until: now.Add(-39 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	old, err = e.rec.Run(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if errs := strings.Join(old.Sources[0].Errors, "\n"); !strings.Contains(errs, "last 30 days") || old.Sources[0].Compared != 0 {
		t.Errorf("old window: %+v; want nothing compared and the 30 days named", old.Sources[0])
	}
}
