package reconcile_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/bigcommerce"
	"github.com/tradewind/tradewind/domain"
)

// newBigCommerceEnv is a shopEnv whose source is a BigCommerce store faked on
// loopback: the same fake answers the reconciliation's listing and the
// worker's Fetch of each (thin) webhook.
func newBigCommerceEnv(t *testing.T) (*shopEnv, *bigcommerce.FakeStore) {
	t.Helper()
	fake := bigcommerce.NewFakeStore()
	fake.RequireCredentials("abc123", "bc_token")
	return &shopEnv{harness: newHarness(t, fake, 40, func(apiURL string) domain.Source {
		return domain.Source{ID: "acme-bc", Provider: "bigcommerce", Secrets: []string{"bc_client_secret"},
			Settings: map[string]string{"store_hash": "abc123", "access_token": "bc_token", "api_base_url": apiURL}}
	})}, fake
}

// bcOrder is an order as the store holds it: one line of total minor units.
func bcOrder(id int64, modified time.Time, statusID int, total int64) bigcommerce.FakeOrder {
	return bigcommerce.FakeOrder{ID: id, StatusID: statusID, CustomerID: 5, Currency: "USD", Modified: modified,
		Lines: []bigcommerce.FakeLine{{ProductID: 77, VariantID: 12, SKU: fmt.Sprintf("BC-%d", id), Quantity: 1, UnitPrice: total}}}
}

// deliverBC puts o into the store and delivers the thin webhook scope names
// it by (as BigCommerce sends it) through the worker's path, which fetches it.
func (e *shopEnv) deliverBC(fake *bigcommerce.FakeStore, scope string, o bigcommerce.FakeOrder) {
	e.t.Helper()
	fake.PutOrder(o)
	e.n++
	body := mustJSON(map[string]any{"scope": scope, "store_id": "1001", "data": map[string]any{"type": "order", "id": o.ID},
		"hash": fmt.Sprintf("%040x", e.n), "created_at": o.Modified.Unix(), "producer": "stores/abc123"})
	e.deliver(scope, body, o.Modified)
}

// TestBigCommerceRepairsWhatWebhooksMissed: a day of BigCommerce orders (two
// pages of the listing) of which one in twenty never arrived as webhooks, and
// one whose cancellation did not: the run repairs every one through the
// worker's path (thin webhook, fetched from the store: the lines come from
// the store's products), origin reconciliation; a second run repairs none.
func TestBigCommerceRepairsWhatWebhooksMissed(t *testing.T) {
	t.Parallel()
	e, fake := newBigCommerceEnv(t)
	start := now.Add(-23 * time.Hour)
	var missed []bigcommerce.FakeOrder
	var cancelled bigcommerce.FakeOrder
	for i := range 300 {
		o := bcOrder(100+int64(i)*3, start.Add(time.Duration(i)*271*time.Second), 11, int64(1000+i))
		if i%20 == 7 { // 5%: no webhook arrived
			fake.PutOrder(o)
			missed = append(missed, o)
			continue
		}
		e.deliverBC(fake, bigcommerce.ScopeOrderCreated, o)
		if i == 40 { // cancelled an hour later; store/order/statusUpdated never arrived
			o.StatusID, o.Modified = 5, o.Modified.Add(time.Hour)
			fake.PutOrder(o)
			cancelled = o
		}
	}

	want := domain.SourceReport{Source: e.src.ID, Compared: 300, Missing: len(missed) + 1, Repaired: len(missed) + 1}
	rep := e.runFinds(want)
	if errs := rep.Sources[0].Errors; len(errs) != 0 {
		t.Errorf("first run errors %q; want none", errs)
	}
	for _, o := range append(missed, cancelled) {
		ref := fmt.Sprint(o.ID)
		held, evs := e.order(ref)
		wantStatus := domain.StatusPlaced
		if o.ID == cancelled.ID {
			wantStatus = domain.StatusCancelled
		}
		total := o.Lines[0].UnitPrice
		if held.Status != wantStatus || held.Total != total || held.Currency != "USD" || held.Version != o.Modified.UnixMilli() {
			t.Errorf("order %s: %s %d %s version %d; want %s %d USD version %d", ref, held.Status, held.Total, held.Currency, held.Version,
				wantStatus, total, o.Modified.UnixMilli())
		}
		if len(held.Lines) != 1 || held.Lines[0].SKU != o.Lines[0].SKU {
			t.Errorf("order %s lines %+v; want the store's line %s (fetched on the worker's path)", ref, held.Lines, o.Lines[0].SKU)
		}
		last := evs[len(evs)-1]
		if last.Origin != domain.OriginReconciliation || !strings.HasPrefix(last.EventID, "reconciliation:order:"+ref+":") {
			t.Errorf("order %s: last event %s origin %q; want reconciliation:order:%s:…, origin reconciliation", ref, last.EventID, last.Origin, ref)
		}
	}
	e.settled(300)
}

// TestBigCommerceDifferences: orders held differently at the store's own
// version (status, total) are conflicts naming both values; an order the store
// does not know is unknown_to_provider; one held with an older snapshot from
// before the window is looked up and repaired; one the store changed after the
// window is left to the next run.
func TestBigCommerceDifferences(t *testing.T) {
	t.Parallel()
	e, fake := newBigCommerceEnv(t)
	at := now.Add(-10 * time.Hour)

	e.deliverBC(fake, bigcommerce.ScopeOrderCreated, bcOrder(2001, at, 5, 2500)) // cancelled here…
	fake.PutOrder(bcOrder(2001, at, 11, 2500))                                   // …awaiting fulfillment there, same date_modified
	e.deliverBC(fake, bigcommerce.ScopeOrderCreated, bcOrder(2002, at, 11, 1000))
	fake.PutOrder(bcOrder(2002, at, 11, 1250))
	e.deliverBC(fake, bigcommerce.ScopeOrderCreated, bcOrder(2003, at, 11, 500))
	fake.DeleteOrder(2003)
	e.deliverBC(fake, bigcommerce.ScopeOrderCreated, bcOrder(2004, now.Add(-72*time.Hour), 11, 800))
	fake.PutOrder(bcOrder(2004, at, 5, 800))
	e.deliverBC(fake, bigcommerce.ScopeOrderCreated, bcOrder(2005, at, 11, 900))
	fake.PutOrder(bcOrder(2005, now.Add(time.Minute), 5, 900))

	want := domain.SourceReport{Source: e.src.ID, Compared: 5, Missing: 1, Repaired: 1, Mismatched: 2, Conflicts: 3}
	e.runFinds(want)
	e.conflictsName(domain.ConflictReconciliationMismatch, map[string][]string{
		"2001": {"storefront placed", "Tradewind cancelled"},
		"2002": {"storefront 1250", "Tradewind 1000"},
	})
	if d := e.conflicts(domain.ConflictUnknownToProvider)["2003"]; !strings.Contains(d, "bigcommerce does not know it") {
		t.Errorf("order 2003: unknown_to_provider conflict %q; want one saying BigCommerce does not know it", d)
	}
	if o, _ := e.order("2004"); o.Status != domain.StatusCancelled {
		t.Errorf("order 2004 (older snapshot here): %s; want cancelled, repaired", o.Status)
	}
	if o, _ := e.order("2005"); o.Status != domain.StatusPlaced {
		t.Errorf("order 2005 (changed after the window): %s; want placed, left to the next run", o.Status)
	}
	e.againFinds(want)
}

// TestBigCommerceRateLimitedAndFailingPages: the store answers 429 (its
// X-Rate-Limit-Time-Reset-Ms waited out on the injected clock) and its second
// page fails once; the run completes with the retried error in its report and
// repairs everything.
func TestBigCommerceRateLimitedAndFailingPages(t *testing.T) {
	t.Parallel()
	e, fake := newBigCommerceEnv(t)
	start := now.Add(-23 * time.Hour)
	missing := 0
	for i := range 600 { // three pages of 250
		o := bcOrder(5000+int64(i), start.Add(time.Duration(i)*130*time.Second), 11, 700)
		if i%20 == 0 {
			fake.PutOrder(o)
			missing++
			continue
		}
		e.deliverBC(fake, bigcommerce.ScopeOrderCreated, o)
	}
	fake.RateLimit(1)   // the first listing request
	fake.FailListing(3) // 1: 429, 2: page 1, 3: page 2
	rep := e.run(false)
	got := source(t, rep)
	if got.Compared != 600 || got.Missing != missing || got.Repaired != missing || got.Conflicts != 0 {
		t.Errorf("report %+v; want 600 compared, %d missing and repaired, no conflicts (errors %q)", got, missing, rep.Sources[0].Errors)
	}
	errorsName(t, rep, "429", "HTTP 500", "page 2 (orders after 5249)")
	if !slices.Contains(e.slept, 2*time.Second) {
		t.Errorf("slept %v; want the 429's X-Rate-Limit-Time-Reset-Ms (2s) waited out", e.slept)
	}
}

// TestBigCommerceDryRunChangesNothing: a dry run reports what it would repair
// and the conflicts it would open, and changes nothing.
func TestBigCommerceDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e, fake := newBigCommerceEnv(t)
	start := now.Add(-20 * time.Hour)
	for i := range 40 {
		o := bcOrder(300+int64(i), start.Add(time.Duration(i)*time.Minute), 11, 1500)
		if i%4 == 0 {
			fake.PutOrder(o)
			continue
		}
		e.deliverBC(fake, bigcommerce.ScopeOrderCreated, o)
	}
	e.deliverBC(fake, bigcommerce.ScopeOrderCreated, bcOrder(77, now.Add(-time.Hour), 11, 100))
	fake.DeleteOrder(77)
	rep := e.dryRun("ref || status || payment_status")
	got := source(t, rep)
	want := domain.SourceReport{Source: e.src.ID, Compared: 41, Missing: 10, Conflicts: 1}
	if diff := cmp.Diff(want, got); diff != "" || !rep.DryRun {
		t.Errorf("dry run (-want +got):\n%s\ndry_run %v", diff, rep.DryRun)
	}
	if got := source(t, e.run(false)); got.Repaired != 10 || got.Conflicts != 1 {
		t.Errorf("real run: %+v; want 10 repaired, 1 conflict", got)
	}
}
