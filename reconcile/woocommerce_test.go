package reconcile_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/adapters/woocommerce"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
	"github.com/tradewind/tradewind/reconcile"
)

// newWooEnv is a shopEnv whose source is a WooCommerce store faked on loopback.
func newWooEnv(t *testing.T) (*shopEnv, *woocommerce.FakeAPI) {
	t.Helper()
	e := &shopEnv{t: t, db: pgtest.Open(t, 8)}
	fake := &woocommerce.FakeAPI{Key: "ck_1", Secret: "cs_1"}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	e.src = domain.Source{ID: "acme-woo", Provider: "woocommerce", Secrets: []string{"wh_x"},
		Settings: map[string]string{"consumer_key": "ck_1", "consumer_secret": "cs_1", "api_base_url": srv.URL}}
	e.inbox = &postgres.Inbox{DB: e.db}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.apply = &jobs.ProcessWebhook{
		Inbox: e.inbox, Applier: &postgres.Ledger{DB: e.db, Now: func() time.Time { return now }},
		Sources:   domain.Sources{e.src.ID: e.src},
		Providers: registry.New(), Logger: logger,
	}
	e.rec = reconcile.New(reconcile.Params{
		Store: &postgres.ReconcileStore{DB: e.db, PageSize: 40, Now: func() time.Time { return now }}, Reports: &postgres.Reconciliations{DB: e.db},
		Sources:  func() []domain.Source { return []domain.Source{e.src} },
		Provider: lookup,
		Apply: func(ctx context.Context, id int64) error {
			return e.apply.ProcessTask(ctx, jobs.NewProcessWebhookTask(id, jobs.QueueDefault))
		},
		Sleep:  func(_ context.Context, d time.Duration) error { e.slept = append(e.slept, d); return nil },
		Now:    func() time.Time { return now },
		Logger: logger,
	})
	return e, fake
}

type wooOrder struct {
	id       int64
	modified time.Time
	status   string // processing, completed, cancelled, …
	total    string
}

func (o wooOrder) body() []byte {
	return mustJSON(map[string]any{
		"id": o.id, "status": o.status, "currency": "EUR", "total": o.total, "customer_id": 3,
		"date_created_gmt": o.modified.Add(-time.Minute).Format("2006-01-02T15:04:05"), "date_modified_gmt": o.modified.Format("2006-01-02T15:04:05"),
		"line_items": []any{map[string]any{"id": o.id * 10, "product_id": 31, "variation_id": 0, "quantity": 1, "subtotal": o.total, "total": o.total, "price": 0, "sku": "WOO-1"}},
	})
}

// TestWooCommerceReconciles: of a day of WooCommerce orders one in twenty never
// arrived as webhooks; the store answers 429 once and its second page fails
// once. A dry run changes nothing; the run repairs every missing order through
// the apply path (origin reconciliation) with the errors it went past in its
// report; a status and a total held differently are conflicts naming both; a
// second run repairs none.
func TestWooCommerceReconciles(t *testing.T) {
	t.Parallel()
	e, fake := newWooEnv(t)
	start := now.Add(-23 * time.Hour)
	var missed []wooOrder
	for i := range 260 { // three pages of 100
		o := wooOrder{id: int64(500 + i), modified: start.Add(time.Duration(i) * 300 * time.Second), status: "processing", total: fmt.Sprintf("%d.50", 10+i)}
		fake.PutOrder(o.body())
		if i%20 == 3 {
			missed = append(missed, o)
			continue
		}
		switch i {
		case 40: // completed here, cancelled there at the same modification time
			o.status = "completed"
		case 41: // total differs
			o.total = "1.00"
		}
		e.deliver(woocommerce.TopicOrderCreated, o.body(), o.modified)
	}
	fake.RateLimit(1)
	fake.FailOnce(2)

	snapshot := func() string {
		var s string
		if err := e.db.Get(&s, `SELECT concat_ws('|', (SELECT count(*) FROM inbox), (SELECT count(*) FROM applied_events),
			(SELECT count(*) FROM conflicts), (SELECT string_agg(ref || status || total, ',' ORDER BY ref) FROM orders))`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := snapshot()
	dry := source(t, e.run(true))
	want := domain.SourceReport{Source: e.src.ID, Compared: 260, Missing: len(missed), Mismatched: 2, Conflicts: 2}
	if diff := cmp.Diff(want, dry); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	if after := snapshot(); after != before {
		t.Errorf("the dry run changed the database:\nbefore %s\nafter  %s", before, after)
	}

	fake.RateLimit(1)
	fake.FailOnce(2)
	rep := e.run(false)
	want.Repaired = len(missed)
	if diff := cmp.Diff(want, source(t, rep)); diff != "" {
		t.Errorf("run (-want +got):\n%s\nerrors %q", diff, rep.Sources[0].Errors)
	}
	errs := strings.Join(rep.Sources[0].Errors, "\n")
	for _, s := range []string{"429", "HTTP 500", "page 2"} {
		if !strings.Contains(errs, s) {
			t.Errorf("report errors %q; want one naming %s", errs, s)
		}
	}
	for _, o := range missed {
		held, evs := e.order(fmt.Sprint(o.id))
		if held.Status != domain.StatusPlaced || held.Currency != "EUR" || len(evs) == 0 {
			t.Errorf("order %d: %+v, %d events; want placed in EUR", o.id, held, len(evs))
		}
		for _, ev := range evs {
			if ev.Origin != domain.OriginReconciliation {
				t.Errorf("order %d event %s: origin %q; want reconciliation", o.id, ev.EventID, ev.Origin)
			}
		}
	}
	mismatches := e.conflicts(domain.ConflictReconciliationMismatch)
	for ref, both := range map[string][]string{"540": {"storefront placed", "Tradewind fulfilled"}, "541": {"storefront 5150", "Tradewind 100"}} {
		for _, s := range both {
			if !strings.Contains(mismatches[ref], s) {
				t.Errorf("order %s conflict %q; want it to name %q", ref, mismatches[ref], s)
			}
		}
	}
	again := source(t, e.run(false))
	want.Missing, want.Repaired = 0, 0
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("second run (-want +got):\n%s", diff)
	}
}
