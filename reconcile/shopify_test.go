package reconcile_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/domain"
)

// shopEnv is a storefront source whose API is a fake on loopback: Shopify's
// Admin API (fake), or WooCommerce's or BigCommerce's store (newWooEnv,
// newBigCommerceEnv, with fake nil).
type shopEnv struct {
	*harness
	fake *shopify.FakeAPI
	// n numbers the webhooks delivered.
	n int
}

func newShopEnv(t *testing.T) *shopEnv {
	t.Helper()
	fake := &shopify.FakeAPI{Token: "shpat_reconcile"}
	return &shopEnv{fake: fake, harness: newHarness(t, fake, 40, func(apiURL string) domain.Source {
		return domain.Source{ID: "acme-shop", Provider: "shopify", Secrets: []string{"shpss_x"},
			Settings: map[string]string{"admin_token": "shpat_reconcile", "shop_domain": "acme.myshopify.com",
				"api_base_url": apiURL + "/admin/api/" + shopify.APIVersion}}
	})}
}

// shopOrder is an order as Shopify holds it.
type shopOrder struct {
	id        int64
	updated   time.Time
	total     string // "12.50"
	financial string // pending, paid, refunded, …
	cancelled bool
	refunded  bool // one refund of the whole total, listed in refunds
}

func (o shopOrder) ref() string { return fmt.Sprint(o.id) }

func (o shopOrder) refund() map[string]any {
	ts := o.updated.Format(time.RFC3339)
	return map[string]any{"id": o.id*10 + 1, "order_id": o.id, "created_at": ts, "processed_at": ts, "note": nil, "restock": false,
		"refund_line_items": []any{}, "transactions": []any{map[string]any{"id": o.id*10 + 2, "kind": "refund", "status": "success",
			"amount": o.total, "currency": "USD", "gateway": "bogus"}}}
}

// body is the order's JSON as the listing (and Shopify's orders/* webhooks) carry it.
func (o shopOrder) body() []byte {
	ts := o.updated.Format(time.RFC3339)
	var cancelledAt any
	if o.cancelled {
		cancelledAt = ts
	}
	refunds := []any{}
	if o.refunded {
		refunds = append(refunds, o.refund())
	}
	return mustJSON(map[string]any{
		"id": o.id, "name": "#" + o.ref(), "currency": "USD", "total_price": o.total, "financial_status": o.financial,
		"created_at": o.updated.Add(-time.Minute).Format(time.RFC3339), "updated_at": ts, "cancelled_at": cancelledAt,
		"fulfillment_status": nil, "customer": map[string]any{"id": 7},
		"line_items": []any{map[string]any{"id": o.id * 10, "sku": "SKU-" + o.ref(), "quantity": 1, "price": o.total}},
		"refunds":    refunds,
	})
}

// deliver stores a webhook of topic with body and applies it through the worker's path.
func (e *shopEnv) deliver(topic string, body []byte, at time.Time) {
	e.t.Helper()
	e.n++
	e.deliverAs(fmt.Sprintf("wh-%06d", e.n), topic, body, at)
}

// deliverAll delivers the webhooks Shopify sends for o: orders/create, then
// orders/paid when paid, then refunds/create when refunded.
func (e *shopEnv) deliverAll(o shopOrder) {
	e.t.Helper()
	e.deliver(shopify.TopicOrdersCreate, o.body(), o.updated)
	if o.financial == "paid" || o.financial == "refunded" {
		e.deliver(shopify.TopicOrdersPaid, o.body(), o.updated)
	}
	if o.refunded {
		e.deliver(shopify.TopicRefundsCreate, mustJSON(o.refund()), o.updated)
	}
}

// aDay is n orders over the day before now: every third paid, every seventh
// refunded, the rest pending.
func aDay(n int) []shopOrder {
	start := now.Add(-23 * time.Hour)
	var out []shopOrder
	for i := range n {
		o := shopOrder{id: 820982911946154000 + int64(i)*7, updated: start.Add(time.Duration(i) * 79 * time.Second),
			total: fmt.Sprintf("%d.%02d", 10+i, i%100), financial: "pending"}
		switch {
		case i%7 == 0:
			o.financial, o.refunded = "refunded", true
		case i%3 == 0:
			o.financial = "paid"
		}
		out = append(out, o)
	}
	return out
}

// TestShopifyRepairsWhatWebhooksMissed: a day of Shopify orders of which one in
// twenty never arrived as webhooks, and one whose cancellation did not: the run
// repairs every one through the apply path (origin reconciliation), their
// payments and refunds too; a second run repairs none.
func TestShopifyRepairsWhatWebhooksMissed(t *testing.T) {
	t.Parallel()
	e := newShopEnv(t)
	var missed []shopOrder
	day := aDay(200)
	for i, o := range day {
		if i%20 == 3 { // 5%: none of its webhooks arrived
			e.fake.PutOrder(o.body())
			missed = append(missed, o)
			continue
		}
		e.deliverAll(o)
		if i == 10 { // cancelled later in the day; orders/cancelled never arrived
			o.cancelled, o.updated = true, o.updated.Add(time.Hour)
			day[i] = o
		}
		e.fake.PutOrder(o.body())
	}

	want := domain.SourceReport{Source: e.src.ID, Compared: 200, Missing: len(missed) + 1, Repaired: len(missed) + 1}
	e.runFinds(want)
	for _, o := range append(missed, day[10]) {
		held, evs := e.order(o.ref())
		wantStatus, wantPay := domain.StatusPlaced, shopify.PaymentStatus(o.financial)
		if o.cancelled {
			wantStatus = domain.StatusCancelled
		}
		if held.Status != wantStatus || held.PaymentStatus != wantPay || held.Currency != "USD" {
			t.Errorf("order %s: %s/%s %s; want %s/%s USD", o.ref(), held.Status, held.PaymentStatus, held.Currency, wantStatus, wantPay)
		}
		for _, ev := range evs {
			if ev.Source == e.src.ID && ev.Origin != domain.OriginReconciliation && o.id != day[10].id {
				t.Errorf("order %s event %s: origin %q; want reconciliation", o.ref(), ev.EventID, ev.Origin)
			}
		}
		if o.id == day[10].id && evs[len(evs)-1].Origin != domain.OriginReconciliation {
			t.Errorf("order %s: its last event %s has origin %q; want the cancellation repaired (reconciliation)", o.ref(), evs[len(evs)-1].EventID, evs[len(evs)-1].Origin)
		}
	}
	e.settled(200)
}

// TestShopifyDifferences: orders held differently at Shopify's own version are
// conflicts naming both values (status, total, payment status); an order
// Shopify does not know is unknown_to_provider; one held with an older snapshot
// from before the window is looked up and repaired; one Shopify changed after
// the window is left to the next run.
func TestShopifyDifferences(t *testing.T) {
	t.Parallel()
	e := newShopEnv(t)
	at := now.Add(-10 * time.Hour)
	status := shopOrder{id: 1001, updated: at, total: "25.00", financial: "pending"}
	amount := shopOrder{id: 1002, updated: at, total: "12.50", financial: "pending"}
	paid := shopOrder{id: 1003, updated: at, total: "40.00", financial: "pending"}
	unknown := shopOrder{id: 1004, updated: at, total: "5.00", financial: "pending"}
	older := shopOrder{id: 1005, updated: now.Add(-72 * time.Hour), total: "8.00", financial: "paid"}
	later := shopOrder{id: 1006, updated: at, total: "9.00", financial: "pending"}

	cancelledHere := status
	cancelledHere.cancelled = true
	e.deliver(shopify.TopicOrdersUpdated, cancelledHere.body(), at)
	e.fake.PutOrder(status.body())

	lessHere := amount
	lessHere.total = "10.00"
	e.deliver(shopify.TopicOrdersCreate, lessHere.body(), at)
	e.fake.PutOrder(amount.body())

	paidHere := paid
	paidHere.financial = "paid"
	e.deliver(shopify.TopicOrdersPaid, paidHere.body(), at)
	e.fake.PutOrder(paid.body())

	e.deliver(shopify.TopicOrdersCreate, unknown.body(), at)

	e.deliverAll(older)
	olderThere := older
	olderThere.cancelled, olderThere.updated = true, at
	e.fake.PutOrder(olderThere.body())

	e.deliver(shopify.TopicOrdersCreate, later.body(), at)
	laterThere := later
	laterThere.updated = now.Add(time.Minute)
	e.fake.PutOrder(laterThere.body())

	want := domain.SourceReport{Source: e.src.ID, Compared: 6, Missing: 1, Repaired: 1, Mismatched: 3, Conflicts: 4}
	e.runFinds(want)
	e.conflictsName(domain.ConflictReconciliationMismatch, map[string][]string{
		"1001": {"storefront placed", "Tradewind cancelled"},
		"1002": {"storefront 1250", "Tradewind 1000"},
		"1003": {"storefront unpaid", "Tradewind paid"},
	})
	if d := e.conflicts(domain.ConflictUnknownToProvider)["1004"]; !strings.Contains(d, "shopify does not know it") {
		t.Errorf("order 1004: unknown_to_provider conflict %q; want one saying Shopify does not know it", d)
	}
	if o, _ := e.order("1005"); o.Status != domain.StatusCancelled {
		t.Errorf("order 1005 (older snapshot here): %s; want cancelled, repaired", o.Status)
	}
	e.againFinds(want)
	if n := len(e.conflicts(domain.ConflictReconciliationMismatch)) + len(e.conflicts(domain.ConflictUnknownToProvider)); n != 4 {
		t.Errorf("%d reconciliation conflicts after two runs; want the same 4", n)
	}
}

// TestShopifyRateLimitedAndFailingPages: Shopify answers 429 (Retry-After
// waited out on the injected clock) and its second page fails once; the run
// completes with the retried error in its report and repairs everything.
func TestShopifyRateLimitedAndFailingPages(t *testing.T) {
	t.Parallel()
	e := newShopEnv(t)
	missing := 0
	for i, o := range aDay(600) { // three pages of 250
		e.fake.PutOrder(o.body())
		if i%20 == 0 {
			missing++
			continue
		}
		e.deliverAll(o)
	}
	e.fake.RateLimit(1)
	e.fake.FailOnce(2)
	rep := e.run(false)
	got := source(t, rep)
	if got.Compared != 600 || got.Missing != missing || got.Repaired != missing || got.Conflicts != 0 {
		t.Errorf("report %+v; want 600 compared, %d missing and repaired, no conflicts", got, missing)
	}
	errorsName(t, rep, "429", "HTTP 500", "page 2")
	if !slices.Contains(e.slept, 2*time.Second) {
		t.Errorf("slept %v; want the 429's Retry-After (2s) waited out", e.slept)
	}
}

// TestShopifyDryRunChangesNothing: a dry run reports what it would repair and
// the conflicts it would open, and changes nothing.
func TestShopifyDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := newShopEnv(t)
	for i, o := range aDay(40) {
		e.fake.PutOrder(o.body())
		if i%4 != 0 {
			e.deliverAll(o)
		}
	}
	e.deliver(shopify.TopicOrdersCreate, shopOrder{id: 77, updated: now.Add(-time.Hour), total: "1.00", financial: "pending"}.body(), now.Add(-time.Hour))
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
