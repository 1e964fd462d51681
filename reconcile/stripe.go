package reconcile

import (
	"cmp"
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
	api.Sleep = r.p.Sleep
	api.OnRetry = func(err error) { rep.errorf("%v", err) }
	s := &stripeRun{api: api}
	if s.run, err = newRun(r, src, req, rep); err != nil {
		return err
	}
	// Stripe filters by whole seconds; so does the inbox's provider time.
	since, until := req.Since.Truncate(time.Second), req.Until.Truncate(time.Second)
	if since.After(s.now.Add(-stripeEventRetention)) {
		if err := s.events(ctx, since, until); err != nil {
			if isDatabase(err) || ctx.Err() != nil {
				return err
			}
			rep.errorf("events: %s", domain.ErrorMessage(err))
		}
	} else {
		rep.errorf("events: Stripe lists the last 30 days of events only; the window starts before that, so payments were compared by state alone")
	}
	if err := s.intents(ctx, since, until); err != nil {
		if isDatabase(err) || ctx.Err() != nil {
			return err
		}
		rep.errorf("payment intents: %s", domain.ErrorMessage(err))
	}
	return nil
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

func (s *stripeRun) intents(ctx context.Context, since, until time.Time) error {
	batch := make([]stripe.IntentState, 0, intentPage)
	for raw, err := range s.api.PaymentIntents(ctx, since, until) {
		if err != nil {
			if ferr := s.compareIntents(ctx, batch); ferr != nil {
				return ferr
			}
			return err
		}
		pi, err := stripe.Intent(s.src, raw)
		if err != nil {
			s.rep.errorf("%v", err)
			continue
		}
		if batch = append(batch, pi); len(batch) == intentPage {
			if err := s.compareIntents(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return s.compareIntents(ctx, batch)
}

// compareIntents merges a page of intents (sorted by id) with Tradewind's
// payments of the same ids (read in id order).
func (s *stripeRun) compareIntents(ctx context.Context, batch []stripe.IntentState) error {
	if len(batch) == 0 {
		return nil
	}
	slices.SortFunc(batch, func(a, b stripe.IntentState) int { return cmp.Compare(a.ID, b.ID) })
	refs := make([]string, len(batch))
	for i, pi := range batch {
		refs[i] = pi.ID
	}
	held, err := s.r.p.Store.Payments(ctx, stripe.Kind, refs)
	if err != nil {
		return dbError{err}
	}
	return Merge(ctx, Slice(batch), Slice(held),
		func(t stripe.IntentState, u domain.HeldPayment) int { return cmp.Compare(t.ID, u.Ref) },
		func(t *stripe.IntentState, u *domain.HeldPayment) error {
			if t == nil {
				return nil // read by id: cannot happen
			}
			s.rep.compared()
			var ours *domain.HeldState
			orderRef := t.OrderRef
			if u != nil {
				st := u.State()
				ours = &st
				if u.OrderRef != "" {
					orderRef = u.OrderRef
				}
			}
			if s.wouldRepair[t.ID] {
				return nil // a dry run's events pass counted it
			}
			f, detail := domain.ComparePayment(t.ID, t.State, ours)
			switch f {
			case domain.Missing:
				return s.repairIntent(ctx, t)
			case domain.Mismatch:
				s.rep.Mismatched++
				return s.conflict(ctx, f, orderRef, "Stripe: "+detail, "")
			}
			return nil
		})
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
