package reconcile_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/domain"
)

// env is a Stripe source whose API is a fake on loopback.
type env struct {
	*harness
	fake *stripe.FakeAPI
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fake := &stripe.FakeAPI{Key: "sk_test_reconcile"}
	return &env{fake: fake, harness: newHarness(t, fake, 50, func(apiURL string) domain.Source {
		return domain.Source{ID: "acme-stripe", Provider: "stripe", Secrets: []string{"whsec_x"},
			Settings: map[string]string{"api_key": "sk_test_reconcile", "api_base_url": apiURL}}
	})}
}

// payment is one of the day's payments, as Stripe knows it.
type payment struct {
	pi, order string
	created   int64
	amount    int64
	refunded  int64 // refunded by Stripe (charge.refunded listed unless refundUnlisted)
	// refundUnlisted: Stripe's payment intent shows the refund, its event is not listed.
	refundUnlisted bool
}

func (p payment) intent() json.RawMessage {
	return mustJSON(map[string]any{
		"id": p.pi, "object": "payment_intent", "created": p.created, "amount": p.amount, "amount_received": p.amount,
		"currency": "usd", "status": "succeeded", "metadata": map[string]string{"order_ref": p.order},
		"latest_charge": p.charge(),
	})
}

func (p payment) charge() map[string]any {
	return map[string]any{"id": "ch_" + p.pi[3:], "object": "charge", "amount": p.amount, "amount_captured": p.amount,
		"amount_refunded": p.refunded, "refunded": p.refunded == p.amount, "captured": true, "currency": "usd",
		"payment_intent": p.pi, "metadata": map[string]string{"order_ref": p.order}}
}

func (p payment) succeeded() json.RawMessage {
	return event("evt_s_"+p.pi[3:], "payment_intent.succeeded", p.created, mustJSON(map[string]any{
		"id": p.pi, "object": "payment_intent", "amount": p.amount, "amount_received": p.amount, "currency": "usd",
		"status": "succeeded", "metadata": map[string]string{"order_ref": p.order}}))
}

func (p payment) refundEvent() json.RawMessage {
	return event("evt_r_"+p.pi[3:], "charge.refunded", p.created+60, mustJSON(p.charge()))
}

func event(id, typ string, created int64, object json.RawMessage) json.RawMessage {
	return mustJSON(map[string]any{"id": id, "object": "event", "type": typ, "created": created,
		"data": map[string]json.RawMessage{"object": object}})
}

// list puts p on the fake Stripe: its intent and its events.
func (e *env) list(p payment) {
	e.fake.AddIntent(p.intent())
	e.fake.AddEvent(p.succeeded())
	if p.refunded > 0 && !p.refundUnlisted {
		e.fake.AddEvent(p.refundEvent())
	}
}

// deliver stores raw as a webhook and applies it through the worker's path.
func (e *env) deliver(raw json.RawMessage) {
	e.t.Helper()
	h, err := stripe.Head(raw)
	if err != nil {
		e.t.Fatal(err)
	}
	e.deliverAs(h.ID, h.Type, raw, h.Created)
}

// TestRepairsWhatWebhooksMissed: a day of payments, some refunded, of which one
// in twenty never arrived as webhooks. The run repairs every one through the
// apply path (origin reconciliation on the order's timeline); a second run
// repairs none.
func TestRepairsWhatWebhooksMissed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 200
	start := now.Add(-24 * time.Hour).Unix()
	var missed []payment
	for i := range n {
		p := payment{pi: fmt.Sprintf("pi_%04d", i), order: fmt.Sprint(5000 + i), created: start + int64(i*400), amount: 1000 + int64(i)}
		if i%7 == 0 {
			p.refunded = p.amount
		}
		e.list(p)
		if i%20 == 3 { // 5%: neither its payment nor its refund arrived
			missed = append(missed, p)
			continue
		}
		e.deliver(p.succeeded())
		if p.refunded > 0 && i != 14 { // 14: its refund's webhook alone went missing
			e.deliver(p.refundEvent())
		}
	}

	rep := e.run(false)
	missingEvents := 1 // the refund of 14
	for _, p := range missed {
		missingEvents++
		if p.refunded > 0 {
			missingEvents++
		}
	}
	got := source(t, rep)
	if got.Missing != got.Repaired || got.Repaired != missingEvents || got.Mismatched != 0 || got.Conflicts != 0 {
		t.Errorf("first run: %+v; want %d missing events all repaired, nothing mismatched", got, missingEvents)
	}
	if s := e.paymentStatus("5014"); s != "refunded" {
		t.Errorf("order 5014: payment_status %s; want refunded", s)
	}
	for _, p := range missed {
		want := "paid"
		if p.refunded > 0 {
			want = "refunded"
		}
		if s := e.paymentStatus(p.order); s != want {
			t.Errorf("order %s: payment_status %s; want %s", p.order, s, want)
		}
		e.repaired(p.order)
	}

	again := source(t, e.run(false))
	if again.Missing != 0 || again.Repaired != 0 || again.Conflicts != 0 {
		t.Errorf("second run: %+v; want nothing missing, repaired or in conflict", again)
	}
	// A webhook that arrives after the repair is a duplicate.
	e.arrivesLate("evt_s_"+missed[0].pi[3:], "payment_intent.succeeded", missed[0].succeeded())
}

// TestRefundsAndAmounts: Stripe says refunded where Tradewind says paid —
// repaired when the refund's event is listed, a conflict when only the intent's
// state says so; amounts that differ are a conflict naming both.
func TestRefundsAndAmounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := now.Add(-20 * time.Hour).Unix()
	listed := payment{pi: "pi_listed", order: "1", created: start, amount: 5000, refunded: 5000}
	unlisted := payment{pi: "pi_unlisted", order: "2", created: start + 10, amount: 5000, refunded: 5000, refundUnlisted: true}
	amount := payment{pi: "pi_amount", order: "3", created: start + 20, amount: 7000}
	for _, p := range []payment{listed, unlisted, amount} {
		e.list(p)
	}
	e.deliver(listed.succeeded())
	e.deliver(unlisted.succeeded())
	wrong := amount
	wrong.amount = 6500
	e.deliver(event("evt_s_amount", "payment_intent.succeeded", amount.created, mustJSON(map[string]any{
		"id": amount.pi, "object": "payment_intent", "amount": wrong.amount, "amount_received": wrong.amount, "currency": "usd",
		"status": "succeeded", "metadata": map[string]string{"order_ref": amount.order}})))

	e.runFinds(domain.SourceReport{Source: "acme-stripe", Compared: 4 + 3, Missing: 1, Repaired: 1, Mismatched: 2, Conflicts: 2})
	if s := e.paymentStatus("1"); s != "refunded" {
		t.Errorf("order 1 (refund listed): %s; want refunded", s)
	}
	if s := e.paymentStatus("2"); s != "paid" {
		t.Errorf("order 2 (refund not listed): %s; want paid, with a conflict", s)
	}
	e.conflictsName(domain.ConflictReconciliationMismatch, map[string][]string{"2": {"provider refunded", "Tradewind paid"}, "3": {"provider 7000", "Tradewind 6500"}})
	again := source(t, e.run(false))
	if again.Repaired != 0 || again.Missing != 0 {
		t.Errorf("second run: %+v; want nothing repaired", again)
	}
	if n := e.count(`SELECT count(*) FROM conflicts WHERE kind = $1`, domain.ConflictReconciliationMismatch); n != 2 {
		t.Errorf("%d mismatch conflicts after two runs; want the same 2", n)
	}
}

// TestRateLimitedAndFailingPages: Stripe answers 429 (Retry-After waited out,
// on the injected clock) and a page fails once; the run completes with the
// retried error in its report and everything compared.
func TestRateLimitedAndFailingPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := now.Add(-20 * time.Hour).Unix()
	for i := range 150 { // two pages of events
		p := payment{pi: fmt.Sprintf("pi_%04d", i), order: fmt.Sprint(i), created: start + int64(i), amount: 100}
		e.list(p)
		if i%10 != 0 {
			e.deliver(p.succeeded())
		}
	}
	e.fake.RateLimit(1)
	e.fake.FailOnce("/v1/events", "evt_s_0050") // the second page: after the 100th newest
	rep := e.run(false)
	got := source(t, rep)
	if got.Missing != 15 || got.Repaired != 15 {
		t.Errorf("report %+v; want 15 missing, 15 repaired", got)
	}
	errorsName(t, rep, "429", "HTTP 500")
	e.waitedOut()
}

// TestDryRunChangesNothing: a dry run reports what it would repair and changes nothing.
func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := now.Add(-20 * time.Hour).Unix()
	for i := range 20 {
		p := payment{pi: fmt.Sprintf("pi_%04d", i), order: fmt.Sprint(i), created: start + int64(i*60), amount: 100}
		e.list(p)
		if i%4 != 0 {
			e.deliver(p.succeeded())
		}
	}
	// A SKU whose counter drifted from its ledger.
	if _, err := e.db.Exec(`INSERT INTO inventory (sku, on_hand) VALUES ('SKU-DRIFT', 9)`); err != nil {
		t.Fatal(err)
	}
	rep := e.dryRun("ref || payment_status", `(SELECT string_agg(sku || on_hand || '/' || reserved, ',' ORDER BY sku) FROM inventory)`)
	got := source(t, rep)
	if got.Missing != 5 || got.Repaired != 0 || rep.StockDriftFixed != 1 || !rep.DryRun {
		t.Errorf("dry run: %+v, drift %d, dry_run %v; want 5 missing, 0 repaired, 1 drift it would fix", got, rep.StockDriftFixed, rep.DryRun)
	}
	rep = e.run(false)
	if got := source(t, rep); got.Repaired != 5 || rep.StockDriftFixed != 1 {
		t.Errorf("real run: %+v, drift %d; want 5 repaired, 1 drift fixed", got, rep.StockDriftFixed)
	}
	if n := e.count(`SELECT on_hand FROM inventory WHERE sku = 'SKU-DRIFT'`); n != 0 {
		t.Errorf("SKU-DRIFT on_hand %d after the run; want 0, what its (empty) ledger sums to", n)
	}
	if rep := e.run(false); rep.StockDriftFixed != 0 {
		t.Errorf("third run fixed %d drifts; want 0", rep.StockDriftFixed)
	}
}
