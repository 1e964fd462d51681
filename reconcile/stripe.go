package reconcile

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/domain"
)

// stripeEventRetention is how far back Stripe lists events.
const stripeEventRetention = 30 * 24 * time.Hour

// reconcileStripe reconciles a Stripe source in two passes.
//
// Events: the events Stripe lists for the window (newest first) are merged with
// the source's inbox entries in the same order (the events pass, events.go). An
// event Tradewind never received is stored in the inbox (origin reconciliation)
// under its own event id, so a webhook that arrives later is a duplicate, and
// applied by the worker's path; an entry Stripe does not know is a conflict.
// Stripe keeps 30 days of events: a window older than that is compared by state
// only.
//
// State: the payment intents created in the window are compared with the
// payments Tradewind holds, a page at a time in id order. One Tradewind does not
// hold at all (its events are past Stripe's 30 days) is repaired from the intent
// itself, as the event Stripe would have sent; one held differently (status,
// amount, currency) is a conflict that names both.
func reconcileStripe(ctx context.Context, r *Reconciler, src domain.Source, req Request, rep *report) error {
	api, err := stripe.NewAPI(src, r.p.HTTP)
	if err != nil {
		return err
	}
	api.Sleep, api.OnRetry = r.p.Sleep, rep.retried
	s := &stripeRun{api: api}
	if s.run, err = newRun(r, src, req, rep); err != nil {
		return err
	}
	// Stripe filters by whole seconds; so does the inbox's provider time.
	since, until := req.Since.Truncate(time.Second), req.Until.Truncate(time.Second)
	if since.After(s.now.Add(-stripeEventRetention)) {
		if err := s.endPass(ctx, "events", s.events(ctx, since, until)); err != nil {
			return err
		}
	} else {
		rep.errorf("events: Stripe lists the last 30 days of events only; the window starts before that, so payments were compared by state alone")
	}
	return s.endPass(ctx, "payment intents", s.intents(ctx, since, until))
}

// stripeRun is a Stripe source's run: its two passes over Stripe's API.
type stripeRun struct {
	*run
	api *stripe.API
}

// events is the events pass (compareEvents) over the handled event types.
func (s *stripeRun) events(ctx context.Context, since, until time.Time) error {
	types := stripe.HandledTypes()
	slices.Sort(types)
	theirs := inEventOrder(s.api.Events(ctx, since, until, types), types, stripeHead)
	ours := s.r.p.Store.Entries(ctx, s.src.ID, since, until, types)
	return s.compareEvents(ctx, "Stripe", theirs, ours)
}

// stripeHead reads the head of one listed Stripe event.
func stripeHead(raw json.RawMessage) (listedEvent, error) {
	h, err := stripe.Head(raw)
	return listedEvent{ID: h.ID, Type: h.Type, Created: h.Created, raw: raw}, err
}

// intentPage is how many payment intents are compared at once (Stripe's page).
const intentPage = 100

// intents is the payments pass (payments.go) over the payment intents created
// in the window. In a dry run, the intents whose events the events pass would
// have repaired are not counted again.
func (s *stripeRun) intents(ctx context.Context, since, until time.Time) error {
	pass := paymentPass[stripe.IntentState]{
		run: s.run, provider: "Stripe", kind: stripe.Kind,
		state: func(pi *stripe.IntentState) listedPayment {
			return listedPayment{ID: pi.ID, OrderRef: pi.OrderRef, State: pi.State}
		},
		repair:  s.repairIntent,
		counted: func(id string) bool { return s.wouldRepair[id] },
	}
	for page, err := range inPages(s.run, s.api.PaymentIntents(ctx, since, until), intentPage, stripe.Intent) {
		if err != nil {
			return err
		}
		if err := pass.compare(ctx, page); err != nil {
			return err
		}
	}
	return nil
}

// repairIntent repairs a payment Tradewind does not hold at all from the intent
// Stripe lists: as the event Stripe sends for its state (payment_intent.succeeded
// or amount_capturable_updated; charge.refunded for a refunded charge), under an
// event id of the reconciliation's own ("reconciliation:<intent>:<type>"). The
// facts are monotone, so the real event arriving later changes nothing more.
func (s *stripeRun) repairIntent(ctx context.Context, pi *stripe.IntentState) error {
	var evs []synthetic
	switch {
	case pi.State.Failed && pi.State.Status == domain.PayUnpaid:
		evs = append(evs, synthetic{"payment_intent.canceled", pi.Raw})
	case pi.State.Status == domain.PayAuthorized:
		evs = append(evs, synthetic{"payment_intent.amount_capturable_updated", pi.Raw})
	default:
		evs = append(evs, synthetic{"payment_intent.succeeded", pi.Raw})
		if pi.State.Status == domain.PayRefunded || pi.State.Status == domain.PayPartiallyRefunded {
			var x struct {
				LatestCharge json.RawMessage `json:"latest_charge"`
			}
			if json.Unmarshal(pi.Raw, &x) == nil && len(x.LatestCharge) > 0 && x.LatestCharge[0] == '{' {
				evs = append(evs, synthetic{"charge.refunded", x.LatestCharge})
			}
		}
	}
	s.rep.Missing++
	repaired := true
	for _, e := range evs {
		id := "reconciliation:" + pi.ID + ":" + e.typ
		body, err := json.Marshal(map[string]any{
			"id": id, "object": "event", "type": e.typ, "created": pi.Created.Unix(),
			"data": map[string]json.RawMessage{"object": e.object},
		})
		if err != nil {
			return err
		}
		ok, err := s.repairEvent(ctx, domain.InboxEntry{Source: s.src.ID, Provider: s.src.Provider, EventID: id, EventType: e.typ,
			Body: body, OccurredAt: pi.Created})
		if err != nil {
			return err
		}
		repaired = repaired && ok
	}
	if repaired {
		s.rep.Repaired++
	}
	return nil
}

type synthetic struct {
	typ    string
	object json.RawMessage
}
