package reconcile_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/woocommerce"
	"github.com/tradewind/tradewind/domain"
)

// newWooEnv is a shopEnv whose source is a WooCommerce store faked on loopback.
func newWooEnv(t *testing.T) (*shopEnv, *woocommerce.FakeAPI) {
	t.Helper()
	fake := &woocommerce.FakeAPI{Key: "ck_1", Secret: "cs_1"}
	return &shopEnv{harness: newHarness(t, fake, 40, func(apiURL string) domain.Source {
		return domain.Source{ID: "acme-woo", Provider: "woocommerce", Secrets: []string{"wh_x"},
			Settings: map[string]string{"consumer_key": "ck_1", "consumer_secret": "cs_1", "api_base_url": apiURL}}
	})}, fake
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

	dry := source(t, e.dryRun("ref || status || total"))
	want := domain.SourceReport{Source: e.src.ID, Compared: 260, Missing: len(missed), Mismatched: 2, Conflicts: 2}
	if diff := cmp.Diff(want, dry); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}

	fake.RateLimit(1)
	fake.FailOnce(2)
	want.Repaired = len(missed)
	rep := e.runFinds(want)
	errorsName(t, rep, "429", "HTTP 500", "page 2")
	for _, o := range missed {
		held, evs := e.repaired(fmt.Sprint(o.id))
		if held.Status != domain.StatusPlaced || held.Currency != "EUR" || len(evs) == 0 {
			t.Errorf("order %d: %+v, %d events; want placed in EUR", o.id, held, len(evs))
		}
	}
	e.conflictsName(domain.ConflictReconciliationMismatch, map[string][]string{"540": {"storefront placed", "Tradewind fulfilled"}, "541": {"storefront 5150", "Tradewind 100"}})
	e.againFinds(want)
}
