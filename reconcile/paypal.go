package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/domain"
)

// reconcilePayPal reconciles a PayPal source by its webhook events: the events
// PayPal lists for the source's REST app in the window (newest first) are
// merged with the source's inbox entries in the same order, as Stripe's are. An
// event Tradewind never received is stored in the inbox (origin
// reconciliation) under its own event id, so a webhook that arrives later is a
// duplicate, and applied by the worker's path (which, with the source's
// credentials, confirms it with PayPal as it does every webhook); an entry
// PayPal does not list is a conflict. PayPal lists the last 30 days of events:
// an older window is not compared, and says so in the report.
//
// PayPal's payment state (captures, refunds) is not compared beyond its events:
// its Transaction Search API (GET /v1/reporting/transactions) needs a scope of
// its own and lags by hours; the events carry every fact Tradewind applies.
func reconcilePayPal(ctx context.Context, r *Reconciler, src domain.Source, req Request, rep *report) error {
	api, err := paypal.NewListingAPI(src, r.p.HTTP)
	if err != nil {
		return err
	}
	api.Sleep = r.p.Sleep
	api.OnRetry = func(err error) { rep.errorf("%v", err) }
	prov, ok := r.p.Provider(src.Provider)
	if !ok {
		return fmt.Errorf("provider %s is not registered", src.Provider)
	}
	now := r.p.Now()
	if req.Since.Before(now.Add(-paypal.EventRetention)) {
		rep.errorf("events: PayPal lists the last 30 days of webhook events only; the window starts before that, so it was not compared")
		return nil
	}
	s := &stripeRun{r: r, src: src, prov: prov, rep: rep, dryRun: req.DryRun, now: now} // its repair and conflict are any provider's
	types := paypal.HandledTypes()
	slices.Sort(types)
	theirs := inWindow(byTime(api.Events(ctx, req.Since, req.Until), types, paypalHead), req.Since, req.Until)
	ours := r.p.Store.Entries(ctx, src.ID, req.Since, req.Until, types)
	err = Merge(ctx, theirs, dbErrors(ours),
		func(t listedEvent, u domain.HeldEntry) int {
			return eventOrder(t.Created, t.ID, u.OccurredAt, u.EventID)
		},
		func(t *listedEvent, u *domain.HeldEntry) error {
			switch {
			case t != nil && u != nil:
				rep.compared()
				return nil
			case t != nil:
				rep.compared()
				return s.repairEvent(ctx, t)
			default:
				rep.compared()
				detail := fmt.Sprintf("event %s (%s, %s) is held by Tradewind as webhook %d but PayPal does not list it", u.EventID, u.EventType,
					u.OccurredAt.Format(time.RFC3339Nano), u.ID)
				return s.conflict(ctx, domain.Unknown, u.OrderRef, detail, u.EventID)
			}
		})
	if err != nil {
		if isDatabase(err) || ctx.Err() != nil {
			return err
		}
		rep.errorf("events: %s", domain.ErrorMessage(err))
	}
	return nil
}

func paypalHead(raw json.RawMessage) (listedEvent, error) {
	h, err := paypal.Head(raw)
	if err != nil {
		return listedEvent{}, err
	}
	return listedEvent{EventHead: stripe.EventHead{ID: h.ID, Type: h.Type, Created: h.Created}, raw: raw}, nil
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

// byTime yields a listing (newest first) in eventOrder: the events of one
// instant, sorted by id. Only one instant's events are held at a time. Event
// types outside types (sorted; nil: none) are skipped.
func byTime(events iter.Seq2[json.RawMessage, error], types []string, head func(json.RawMessage) (listedEvent, error)) iter.Seq2[listedEvent, error] {
	return func(yield func(listedEvent, error) bool) {
		var group []listedEvent
		flush := func() bool {
			slices.SortFunc(group, func(a, b listedEvent) int { return cmp.Compare(a.ID, b.ID) })
			for _, e := range group {
				if !yield(e, nil) {
					return false
				}
			}
			group = group[:0]
			return true
		}
		for raw, err := range events {
			if err != nil {
				if flush() {
					yield(listedEvent{}, err)
				}
				return
			}
			e, err := head(raw)
			if err != nil {
				if flush() {
					yield(listedEvent{}, fmt.Errorf("listed event: %v", err))
				}
				return
			}
			if _, ok := slices.BinarySearch(types, e.Type); !ok && len(types) > 0 {
				continue
			}
			if len(group) > 0 && !group[0].Created.Equal(e.Created) {
				if e.Created.After(group[0].Created) {
					if flush() {
						yield(listedEvent{}, fmt.Errorf("event %s (created %s) was listed after older ones: the listing is not newest first", e.ID, e.Created.Format(time.RFC3339Nano)))
					}
					return
				}
				if !flush() {
					return
				}
			}
			group = append(group, e)
		}
		flush()
	}
}
