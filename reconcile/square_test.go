package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/square"
	"github.com/tradewind/tradewind/domain"
)

// squareEnv is a Square source whose API is a fake on loopback.
type squareEnv struct {
	*harness
	fake *square.FakeAPI
}

func newSquareEnv(t *testing.T) *squareEnv {
	t.Helper()
	fake := &square.FakeAPI{Token: "EAAA-reconcile"}
	return &squareEnv{fake: fake, harness: newHarness(t, fake, 50, func(apiURL string) domain.Source {
		return domain.Source{ID: "acme-square", Provider: "square", Secrets: []string{"sig-key"},
			Settings: map[string]string{"notification_url": "https://shop.example.com/webhooks/acme-square", "access_token": "EAAA-reconcile", "api_base_url": apiURL}}
	})}
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
	e.deliverAs(h.ID, h.Type, raw, at)
}

// deliverAll delivers p's webhooks: the payment, and each refund.
func (e *squareEnv) deliverAll(p sqPayment) {
	e.deliver(p.paymentEvent())
	for i := range p.refunds {
		e.deliver(p.refundEvent(i, p.cents/int64(p.refunds)))
	}
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
		_, evs := e.order(p.order)
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

	e.runFinds(domain.SourceReport{Source: "acme-square", Compared: 3, Missing: 1, Mismatched: 3, Conflicts: 3})
	if s := e.paymentStatus("C"); s != "paid" {
		t.Errorf("order C: payment_status %s; want paid (the payment repaired, its two refunds reported)", s)
	}
	e.conflictsName(domain.ConflictReconciliationMismatch, map[string][]string{"A": {"provider refunded", "Tradewind paid"}, "B": {"provider 7000", "Tradewind 6500"}, "C": {"2 refunds"}})
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
	errorsName(t, rep, "429", "HTTP 500")
	e.waitedOut()
}

// TestSquareDryRunChangesNothing: a dry run reports what it would repair and changes nothing.
func TestSquareDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := newSquareEnv(t)
	e.day(20, func(i int) bool { return i%4 == 0 })
	if got := source(t, e.dryRun("ref || payment_status")); got.Missing != 5 || got.Repaired != 0 {
		t.Errorf("dry run: %+v; want 5 missing, 0 repaired", got)
	}
	if got := source(t, e.run(false)); got.Repaired != 5 {
		t.Errorf("real run: %+v; want 5 repaired", got)
	}
}
