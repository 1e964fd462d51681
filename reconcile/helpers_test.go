package reconcile_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
	"github.com/tradewind/tradewind/reconcile"
)

// now is the tests' clock; the window they reconcile is the day ending at now.
var now = time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)

func lookup(kind string) (domain.Provider, bool) {
	a, ok := registry.Lookup(kind)
	return a, ok
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// harness is one source whose provider's API is a fake on loopback, the
// worker's apply path on a test database of its own, and a Reconciler over
// both on the tests' clock. Each provider's tests embed it with their fake.
type harness struct {
	t     *testing.T
	db    *sqlx.DB
	src   domain.Source
	inbox *postgres.Inbox
	apply *jobs.ProcessWebhook
	rec   *reconcile.Reconciler
	// slept are the waits the Reconciler was asked for (not waited out).
	slept []time.Duration
}

// newHarness serves api on loopback; source is the source given the API's
// base URL. The Reconciler's store reads Tradewind's records in pages of
// pageSize.
func newHarness(t *testing.T, api http.Handler, pageSize int, source func(apiURL string) domain.Source) *harness {
	t.Helper()
	h := &harness{t: t, db: pgtest.Open(t, 8)}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	h.src = source(srv.URL)
	h.inbox = &postgres.Inbox{DB: h.db}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.apply = &jobs.ProcessWebhook{
		Inbox: h.inbox, Applier: &postgres.Ledger{DB: h.db, Now: func() time.Time { return now }},
		Sources:   domain.Sources{h.src.ID: h.src},
		Providers: registry.New(), Logger: logger,
	}
	h.rec = reconcile.New(reconcile.Params{
		Store: &postgres.ReconcileStore{DB: h.db, PageSize: pageSize, Now: func() time.Time { return now }}, Reports: &postgres.Reconciliations{DB: h.db},
		Sources:  func() []domain.Source { return []domain.Source{h.src} },
		Provider: lookup,
		Apply:    h.process,
		Sleep:    func(_ context.Context, d time.Duration) error { h.slept = append(h.slept, d); return nil },
		Now:      func() time.Time { return now },
		Logger:   logger,
	})
	return h
}

// process applies inbox entry id through the worker's path, as the task the
// intake queues for the source's provider.
func (h *harness) process(ctx context.Context, id int64) error {
	return h.apply.ProcessTask(ctx, jobs.NewProcessWebhookTask(id, jobs.QueueFor(h.src.Provider)))
}

// deliverAs stores body as the source's webhook eventID of eventType, which
// occurred at at, and applies it through the worker's path.
func (h *harness) deliverAs(eventID, eventType string, body []byte, at time.Time) {
	h.t.Helper()
	res, err := h.inbox.Insert(context.Background(), []domain.InboxEntry{{Source: h.src.ID, Provider: h.src.Provider, EventID: eventID,
		EventType: eventType, Body: body, OccurredAt: at, ReceivedAt: now, Status: domain.InboxReceived}})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.process(context.Background(), res[0].ID); err != nil {
		h.t.Fatal(err)
	}
}

// arrivesLate delivers the webhook eventID of eventType after the run and
// fails t unless the inbox takes it for a duplicate.
func (h *harness) arrivesLate(eventID, eventType string, body []byte) {
	h.t.Helper()
	res, err := h.inbox.Insert(context.Background(), []domain.InboxEntry{{Source: h.src.ID, Provider: h.src.Provider,
		EventID: eventID, EventType: eventType, Body: body, ReceivedAt: now, Status: domain.InboxReceived}})
	if err != nil || res[0].New {
		h.t.Errorf("late webhook: %+v, %v; want a duplicate", res, err)
	}
}

// run reconciles the day ending at now and returns the report.
func (h *harness) run(dryRun bool) domain.Reconciliation {
	h.t.Helper()
	return h.runWindow(reconcile.Request{Since: now.Add(-24 * time.Hour), Until: now, DryRun: dryRun})
}

// runWindow starts and runs req and returns the report.
func (h *harness) runWindow(req reconcile.Request) domain.Reconciliation {
	h.t.Helper()
	ctx := context.Background()
	rep, err := h.rec.Start(ctx, req)
	if err != nil {
		h.t.Fatal(err)
	}
	rep, err = h.rec.Run(ctx, rep.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return rep
}

// dryRun runs a dry run of the day and fails t if it changed what snapshot
// states of the database.
func (h *harness) dryRun(orders string, more ...string) domain.Reconciliation {
	h.t.Helper()
	before := h.snapshot(orders, more...)
	rep := h.run(true)
	if after := h.snapshot(orders, more...); after != before {
		h.t.Errorf("the dry run changed the database:\nbefore %s\nafter  %s", before, after)
	}
	return rep
}

// snapshot states the database as a dry run must leave it: how many inbox
// entries, applied events and conflicts it holds, orders (an SQL expression
// over a row of orders, e.g. ref || payment_status) for each order by ref, and
// each of more (SQL expressions, e.g. a subquery over inventory).
func (h *harness) snapshot(orders string, more ...string) string {
	h.t.Helper()
	parts := append([]string{`(SELECT count(*) FROM inbox)`, `(SELECT count(*) FROM applied_events)`, `(SELECT count(*) FROM conflicts)`,
		`(SELECT string_agg(` + orders + `, ',' ORDER BY ref) FROM orders)`}, more...)
	var s string
	if err := h.db.Get(&s, `SELECT concat_ws('|', `+strings.Join(parts, ", ")+`)`); err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) paymentStatus(order string) string {
	h.t.Helper()
	var s string
	if err := h.db.Get(&s, `SELECT payment_status FROM orders WHERE ref = $1`, order); err != nil {
		return "none"
	}
	return s
}

func (h *harness) count(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.Get(&n, query, args...); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) order(ref string) (domain.Order, []domain.AppliedEvent) {
	h.t.Helper()
	o, evs, err := (&postgres.Orders{DB: h.db}).Order(context.Background(), ref)
	if err != nil {
		h.t.Fatalf("order %s: %v", ref, err)
	}
	return o, evs
}

// repaired is order ref and its events, each of which it fails t for unless it
// came from the reconciliation.
func (h *harness) repaired(ref string) (domain.Order, []domain.AppliedEvent) {
	h.t.Helper()
	o, evs := h.order(ref)
	for _, ev := range evs {
		if ev.Origin != domain.OriginReconciliation {
			h.t.Errorf("order %s event %s: origin %q; want reconciliation", ref, ev.EventID, ev.Origin)
		}
	}
	return o, evs
}

// conflicts are the details of the conflicts of kind ("": all) by order ref.
func (h *harness) conflicts(kind string) map[string]string {
	h.t.Helper()
	cs, err := (&postgres.Conflicts{DB: h.db}).List(context.Background(), domain.ConflictFilter{Kind: kind})
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cs {
		out[c.OrderRef] = c.Detail
	}
	return out
}

// conflictsName fails t for each order whose conflict of kind does not name
// each of the strings want gives it.
func (h *harness) conflictsName(kind string, want map[string][]string) {
	h.t.Helper()
	details := h.conflicts(kind)
	for ref, names := range want {
		for _, s := range names {
			if !strings.Contains(details[ref], s) {
				h.t.Errorf("order %s conflict %q; want it to name %q", ref, details[ref], s)
			}
		}
	}
}

// runFinds runs the day and fails t unless the source's report (less its
// errors, shown when it differs) is want.
func (h *harness) runFinds(want domain.SourceReport) domain.Reconciliation {
	h.t.Helper()
	rep := h.run(false)
	if diff := cmp.Diff(want, source(h.t, rep)); diff != "" {
		h.t.Errorf("report (-want +got):\n%s\nerrors: %q", diff, rep.Sources[0].Errors)
	}
	return rep
}

// againFinds runs the day again and fails t unless it finds what the run
// before found (want) but nothing missing, so nothing repaired.
func (h *harness) againFinds(want domain.SourceReport) {
	h.t.Helper()
	want.Missing, want.Repaired = 0, 0
	if diff := cmp.Diff(want, source(h.t, h.run(false))); diff != "" {
		h.t.Errorf("second run (-want +got):\n%s", diff)
	}
}

// settled fails t unless no conflict is open and a second run compares
// compared records and finds nothing missing, repaired or in conflict: the
// first run repaired all there was.
func (h *harness) settled(compared int) {
	h.t.Helper()
	if cs := h.conflicts(""); len(cs) != 0 {
		h.t.Errorf("conflicts %v; want none", cs)
	}
	again := h.run(false)
	if got := source(h.t, again); got.Missing != 0 || got.Repaired != 0 || got.Conflicts != 0 || got.Compared != compared {
		h.t.Errorf("second run: %+v; want %d compared, nothing missing, repaired or in conflict (errors %q)", got, compared, again.Sources[0].Errors)
	}
}

// waitedOut fails t unless the Reconciler was asked to wait (a 429's
// Retry-After).
func (h *harness) waitedOut() {
	h.t.Helper()
	if len(h.slept) == 0 {
		h.t.Errorf("the 429 was not waited out")
	}
}

// source is the report's one source, without its errors.
func source(t *testing.T, r domain.Reconciliation) domain.SourceReport {
	t.Helper()
	if r.Status != domain.ReconCompleted || len(r.Sources) != 1 {
		t.Fatalf("report: status %s, %d sources, error %q; want completed, 1", r.Status, len(r.Sources), r.Error)
	}
	s := r.Sources[0]
	s.Errors = nil
	return s
}

// errorsName fails t unless the errors of the report's one source name each of
// names.
func errorsName(t *testing.T, r domain.Reconciliation, names ...string) {
	t.Helper()
	errs := strings.Join(r.Sources[0].Errors, "\n")
	for _, s := range names {
		if !strings.Contains(errs, s) {
			t.Errorf("report errors %q; want one naming %s", errs, s)
		}
	}
}
