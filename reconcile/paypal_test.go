package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/reconcile"
)

// paypalEnv is a PayPal source whose REST API is a fake on loopback.
type paypalEnv struct {
	*harness
	fake *paypal.FakeAPI
}

func newPayPalEnv(t *testing.T) *paypalEnv {
	t.Helper()
	fake := paypal.NewFakeAPI("AXclient", "secret-x")
	return &paypalEnv{fake: fake, harness: newHarness(t, fake, 50, func(apiURL string) domain.Source {
		return domain.Source{ID: "acme-paypal", Provider: "paypal",
			Settings: map[string]string{"webhook_id": "4JH86294D6297924G", "client_id": "AXclient", "client_secret": "secret-x", "api_base_url": apiURL}}
	})}
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
	e.deliverAs(h.ID, h.Type, raw, h.Created)
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
		e.repaired(c.order)
	}
	if e.fake.ListRequests() != 3 { // 229 events, 100 a page
		t.Errorf("%d list requests; want 3 pages", e.fake.ListRequests())
	}

	again := source(t, e.run(false))
	if again.Missing != 0 || again.Repaired != 0 || again.Conflicts != 0 {
		t.Errorf("second run: %+v; want nothing missing, repaired or in conflict", again)
	}
	e.arrivesLate("WH-C-"+missed[0].id, "PAYMENT.CAPTURE.COMPLETED", missed[0].completed())
}

// TestPayPalUnknownEvent: an event Tradewind holds that PayPal does not list
// is a conflict naming it, recorded once over two runs.
func TestPayPalUnknownEvent(t *testing.T) {
	t.Parallel()
	e := newPayPalEnv(t)
	e.day(3, func(int) bool { return false })
	ghost := capture{id: "CAPGHOST", order: "9999", at: now.Add(-2 * time.Hour), cents: 500}
	e.deliver(ghost.completed()) // not on PayPal: its confirmation fails, the entry stays held
	e.runFinds(domain.SourceReport{Source: "acme-paypal", Compared: 4 + 1, Conflicts: 1})
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
	errorsName(t, rep, "429", "HTTP 500")
	e.waitedOut()
}

// TestPayPalDryRunChangesNothing: a dry run reports what it would repair and
// changes nothing; a window older than PayPal's 30 days is reported, not compared.
func TestPayPalDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := newPayPalEnv(t)
	e.day(20, func(i int) bool { return i%4 == 1 })
	rep := e.dryRun("ref || payment_status")
	if got := source(t, rep); got.Missing != 5 || got.Repaired != 0 {
		t.Errorf("dry run: %+v; want 5 missing, 0 repaired", got)
	}
	if got := source(t, e.run(false)); got.Repaired != 5 {
		t.Errorf("real run: %+v; want 5 repaired", got)
	}

	old := e.runWindow(reconcile.Request{Since: now.Add(-40 * 24 * time.Hour), Until: now.Add(-39 * 24 * time.Hour)})
	if errs := strings.Join(old.Sources[0].Errors, "\n"); !strings.Contains(errs, "last 30 days") || old.Sources[0].Compared != 0 {
		t.Errorf("old window: %+v; want nothing compared and the 30 days named", old.Sources[0])
	}
}
