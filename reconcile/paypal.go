package reconcile

import (
	"context"
	"encoding/json"
	"iter"
	"slices"
	"time"

	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/domain"
)

// reconcilePayPal reconciles a PayPal source by its webhook events: the events
// PayPal lists for the source's REST app in the window (newest first) are
// merged with the source's inbox entries in the same order (the events pass,
// events.go), as Stripe's are. An event Tradewind never received is stored in
// the inbox (origin reconciliation) under its own event id, so a webhook that
// arrives later is a duplicate, and applied by the worker's path (which, with
// the source's credentials, confirms it with PayPal as it does every webhook);
// an entry PayPal does not list is a conflict. PayPal lists the last 30 days of
// events: an older window is not compared, and says so in the report.
//
// PayPal's payment state (captures, refunds) is not compared beyond its events:
// its Transaction Search API (GET /v1/reporting/transactions) needs a scope of
// its own and lags by hours; the events carry every fact Tradewind applies.
func reconcilePayPal(ctx context.Context, r *Reconciler, src domain.Source, req Request, rep *report) error {
	api, err := paypal.NewListingAPI(src, r.p.HTTP)
	if err != nil {
		return err
	}
	api.Sleep, api.OnRetry = r.p.Sleep, rep.retried
	s, err := newRun(r, src, req, rep)
	if err != nil {
		return err
	}
	if req.Since.Before(s.now.Add(-paypal.EventRetention)) {
		rep.errorf("events: PayPal lists the last 30 days of webhook events only; the window starts before that, so it was not compared")
		return nil
	}
	types := paypal.HandledTypes()
	slices.Sort(types)
	theirs := inWindow(inEventOrder(api.Events(ctx, req.Since, req.Until), types, paypalHead), req.Since, req.Until)
	ours := r.p.Store.Entries(ctx, src.ID, req.Since, req.Until, types)
	return s.endPass(ctx, "events", s.compareEvents(ctx, "PayPal", theirs, ours))
}

// paypalHead reads the head of one listed PayPal event.
func paypalHead(raw json.RawMessage) (listedEvent, error) {
	h, err := paypal.Head(raw)
	if err != nil {
		return listedEvent{}, err
	}
	return listedEvent{ID: h.ID, Type: h.Type, Created: h.Created, raw: raw}, nil
}

// inWindow leaves out listed events outside [since, until]: PayPal filters by
// the times given, Tradewind's inbox by the events' own (finer) times.
func inWindow(events iter.Seq2[listedEvent, error], since, until time.Time) iter.Seq2[listedEvent, error] {
	return func(yield func(listedEvent, error) bool) {
		for e, err := range events {
			if err == nil && (e.Created.Before(since) || e.Created.After(until)) {
				continue
			}
			if !yield(e, err) {
				return
			}
		}
	}
}
