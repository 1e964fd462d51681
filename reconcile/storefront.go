package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// A storefront's orders are reconciled the same way whatever the storefront:
// its listing of the window's orders, in id order (domain.RefOrder), is merged
// with the orders whose snapshot came from the source in the same window, read
// through a keyset cursor in the same order. Each side's order is compared with
// domain.CompareStorefrontOrder:
//
//   - what the listing can repair (an order Tradewind does not hold, or holds
//     at an older version; a payment or refunds the storefront reports) is
//     replayed as the webhooks the storefront would have sent, built from the
//     listed order (the listing's order is the webhooks' body): stored in the
//     inbox with origin reconciliation under an id of the reconciliation's own,
//     and applied through the worker's path; what still differs after that is a
//     reconciliation_mismatch conflict;
//   - an order held differently at the same version is a conflict naming both values;
//   - an order Tradewind holds that the listing left out is fetched on its own:
//     unknown to the storefront, it is an unknown_to_provider conflict; updated
//     after the window, it is left to the next run; otherwise compared as above.
//
// An order listed in the window that Tradewind holds with an older snapshot
// (outside the window) is looked up by its ref, so that it is compared, not
// taken for missing.

// ordersAPI is a storefront's orders API as its adapter gives it
// (shopify.API, woocommerce.API, bigcommerce.OrdersAPI).
type ordersAPI interface {
	// Orders lists the orders updated in [since, until], in domain.RefOrder of
	// their refs.
	Orders(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error]
	// Order fetches one order by ref; found is false when the storefront does not know it.
	Order(ctx context.Context, ref string) (raw json.RawMessage, found bool, err error)
}

// storefront is what is one storefront's own in the shared walk: how its
// listed orders read, and the webhooks that replay them.
type storefront interface {
	// name names the storefront in the report ("Shopify").
	name() string
	// head reads a listed order (its ref, its update time, and what the listing
	// states beyond the snapshot) and the webhook that carries it, whose
	// normalization by the adapter states its snapshot and version. An error
	// without a ref skips the order; one with a ref (listedOrder.err) is
	// reported for that order.
	head(raw json.RawMessage) (listedOrder, domain.Message, error)
	// replay returns the inbox entries (origin reconciliation, deterministic
	// event ids) that replay what need says of o, in the order to apply them;
	// ours is Tradewind's order (nil when it holds none).
	replay(o listedOrder, ours *domain.Order, need domain.OrderRepair) ([]domain.InboxEntry, error)
}

// listedOrder is one order of a storefront's listing.
type listedOrder struct {
	domain.StorefrontOrder
	UpdatedAt time.Time
	Raw       json.RawMessage
	// err is why the order could not be read into StorefrontOrder (reported, not compared).
	err error
}

// storefrontRun is a storefront source's run: its pass over the storefront's
// orders. Its conflicts are run's; its repairs replay orders (repairOrder,
// store), not listed events.
type storefrontRun struct {
	*run
	api   ordersAPI
	shop  storefront
	until time.Time
}

// reconcileStorefront runs the orders pass of src, a storefront source whose
// orders api lists and shop reads.
func reconcileStorefront(ctx context.Context, r *Reconciler, src domain.Source, req Request, rep *report, api ordersAPI, shop storefront) error {
	base, err := newRun(r, src, req, rep)
	if err != nil {
		return err
	}
	// Storefronts filter by whole seconds.
	since, until := req.Since.Truncate(time.Second), req.Until.Truncate(time.Second)
	s := &storefrontRun{run: base, api: api, shop: shop, until: until}
	theirs := s.inRefOrder(api.Orders(ctx, since, until))
	ours := dbErrors(s.r.p.Store.StorefrontOrders(ctx, s.src.ID, since, until))
	err = Merge(ctx, theirs, ours,
		func(t listedOrder, u domain.Order) int { return domain.RefOrder(t.Ref, u.Ref) },
		func(t *listedOrder, u *domain.Order) error {
			switch {
			case t != nil && u != nil:
				return s.compare(ctx, t, u)
			case t != nil:
				held, err := s.r.p.Store.StorefrontOrder(ctx, t.Ref)
				if err != nil {
					return dbError{err}
				}
				return s.compare(ctx, t, held)
			default:
				return s.unlisted(ctx, u)
			}
		})
	return s.endPass(ctx, "orders", err)
}

// inRefOrder reads a listing into listedOrders and checks that it is in
// RefOrder (strictly): the merge's findings would be wrong otherwise.
func (s *storefrontRun) inRefOrder(seq iter.Seq2[json.RawMessage, error]) iter.Seq2[listedOrder, error] {
	return func(yield func(listedOrder, error) bool) {
		last := ""
		for raw, err := range seq {
			if err != nil {
				yield(listedOrder{}, err)
				return
			}
			o, err := s.read(raw)
			if err != nil {
				s.rep.errorf("%v", err)
				continue
			}
			if last != "" && domain.RefOrder(last, o.Ref) >= 0 {
				yield(listedOrder{}, fmt.Errorf("%s listed order %s after %s: the listing is not in id order, so it cannot be compared", s.src.Provider, o.Ref, last))
				return
			}
			last = o.Ref
			if !yield(o, nil) {
				return
			}
		}
	}
}

// read states a listed order: its head, and the snapshot and version that the
// adapter's own normalization of the webhook carrying it yields (what its
// webhooks would carry). What keeps it from them is o.err, reported for the
// order.
func (s *storefrontRun) read(raw json.RawMessage) (listedOrder, error) {
	o, m, err := s.shop.head(raw)
	if err != nil || o.err != nil {
		return o, err
	}
	evs, err := s.prov.Normalize(s.src, m)
	if err != nil {
		o.err = err
		return o, nil
	}
	for _, ev := range evs {
		if ev.Order != nil {
			o.Snapshot, o.Version = *ev.Order, ev.Version
			return o, nil
		}
	}
	o.err = fmt.Errorf("%s's order %s yields no order snapshot", s.shop.name(), o.Ref)
	return o, nil
}

// compare compares a listed order with Tradewind's (nil: none) and repairs or
// records what it finds.
func (s *storefrontRun) compare(ctx context.Context, t *listedOrder, ours *domain.Order) error {
	s.rep.compared()
	if t.err != nil {
		s.rep.errorf("order %s: cannot be compared: %s", t.Ref, domain.ErrorMessage(t.err))
		return nil
	}
	f, need, detail := domain.CompareStorefrontOrder(t.StorefrontOrder, ours)
	switch f {
	case domain.Missing:
		return s.repairOrder(ctx, t, ours, need)
	case domain.Mismatch:
		s.rep.Mismatched++
		return s.conflict(ctx, f, t.Ref, detail, "")
	}
	return nil
}

// repairOrder replays what the listed order says Tradewind missed and compares
// again: what still differs is a conflict. A dry run only counts it.
func (s *storefrontRun) repairOrder(ctx context.Context, t *listedOrder, ours *domain.Order, need domain.OrderRepair) error {
	s.rep.Missing++
	if s.dryRun {
		return nil
	}
	entries, err := s.shop.replay(*t, ours, need)
	if err != nil {
		s.rep.errorf("order %s: cannot be replayed: %s", t.Ref, domain.ErrorMessage(err))
		return nil
	}
	applied, failed := 0, false
	for _, e := range entries {
		ok, err := s.store(ctx, e)
		switch {
		case err != nil && isDatabase(err):
			return err
		case err != nil:
			failed = true // reported
		case ok:
			applied++
		}
	}
	held, err := s.r.p.Store.StorefrontOrder(ctx, t.Ref)
	if err != nil {
		return dbError{err}
	}
	f, _, detail := domain.CompareStorefrontOrder(t.StorefrontOrder, held)
	if f == domain.Agree {
		if applied > 0 {
			s.rep.Repaired++
		}
		return nil
	}
	if failed || held == nil {
		return nil // not applied: store reported why
	}
	s.rep.Mismatched++
	return s.conflict(ctx, domain.Mismatch, t.Ref, detail+" (after replaying what the listing says)", "")
}

// store stores e in the inbox and applies it, reporting whether it was applied
// now (false when a webhook brought it meanwhile). An entry that would not
// normalize or apply is reported, and returned as an error that is not the
// database's.
func (s *storefrontRun) store(ctx context.Context, e domain.InboxEntry) (bool, error) {
	if _, err := s.prov.Normalize(s.src, e.Message()); err != nil {
		s.rep.errorf("order event %s (%s): cannot be normalized: %s", e.EventID, e.EventType, domain.ErrorMessage(err))
		return false, err
	}
	res, err := s.r.p.Store.InsertReconciled(ctx, e)
	if err != nil {
		return false, dbError{err}
	}
	if !res.New {
		return false, nil
	}
	if err := s.r.p.Apply(ctx, res.ID); err != nil {
		s.rep.errorf("order event %s (%s): stored as webhook %d but not applied yet: %s", e.EventID, e.EventType, res.ID, domain.ErrorMessage(err))
		return false, err
	}
	s.r.p.Logger.Info("reconciliation repaired an order", slog.String("source", s.src.ID), slog.String("event_id", e.EventID),
		slog.String("event_type", e.EventType), slog.Int64("inbox_id", res.ID))
	return true, nil
}

// unlisted looks up an order Tradewind holds that the window's listing left out.
func (s *storefrontRun) unlisted(ctx context.Context, u *domain.Order) error {
	raw, found, err := s.api.Order(ctx, u.Ref)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		s.rep.compared()
		s.rep.errorf("order %s: held by Tradewind, not listed, and could not be fetched: %s", u.Ref, domain.ErrorMessage(err))
		return nil
	}
	if !found {
		s.rep.compared()
		detail := fmt.Sprintf("order %s (%s, %d %s, updated %s) is held by Tradewind but %s does not know it", u.Ref, u.Status, u.Total,
			u.Currency, u.SnapshotAt.Format(time.RFC3339), s.src.Provider)
		return s.conflict(ctx, domain.Unknown, u.Ref, detail, "")
	}
	t, err := s.read(raw)
	if err != nil {
		s.rep.compared()
		s.rep.errorf("%v", err)
		return nil
	}
	if t.UpdatedAt.After(s.until) {
		s.rep.compared() // changed since the window: the next run compares it
		return nil
	}
	return s.compare(ctx, &t, u)
}
