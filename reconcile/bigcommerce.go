package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"time"

	"github.com/tradewind/tradewind/adapters/bigcommerce"
	"github.com/tradewind/tradewind/domain"
)

// reconcileBigCommerce reconciles a BigCommerce source's orders (see
// storefront.go): GET /v2/orders lists the window's orders by id.
//
// BigCommerce's webhooks are thin (store/order/updated names data.id) and the
// adapter's Fetcher completes them from the store API, so a missed order is
// replayed as the thin webhook BigCommerce would have sent, with the listed
// order under "fetched" as Fetch would have added it
// (bigcommerce.ListedMessage). That body normalizes as it is (so a listing the
// adapter cannot read is reported, not stored), and the worker's path, like for
// any BigCommerce webhook, fetches the order and its products again before it
// applies it: the repair goes through exactly the path of a webhook, lines
// included, with no special case in the worker or the adapter.
//
// Payments come from the order's transactions (store/order/transaction/created),
// which the order listing does not state, so orders are compared on status,
// total and currency.
func reconcileBigCommerce(ctx context.Context, r *Reconciler, src domain.Source, req Request, rep *report) error {
	api, err := bigcommerce.NewOrdersAPI(src, r.p.HTTP)
	if err != nil {
		return err
	}
	api.Sleep = r.p.Sleep
	api.OnRetry = func(err error) { rep.errorf("%v", err) }
	s, err := newRun(r, src, req, rep)
	if err != nil {
		return err
	}
	return reconcileStorefront(ctx, s, bigcommerceStore{api: api, src: src, prov: s.prov}, req)
}

type bigcommerceStore struct {
	api  *bigcommerce.OrdersAPI
	src  domain.Source
	prov domain.Provider
}

func (s bigcommerceStore) orders(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error] {
	return s.api.Orders(ctx, since, until)
}

func (s bigcommerceStore) order(ctx context.Context, ref string) (json.RawMessage, bool, error) {
	return s.api.Order(ctx, ref)
}

// read states a listed order through the adapter's own normalization of the
// store/order/updated webhook that carries it.
func (s bigcommerceStore) read(raw json.RawMessage) (listedOrder, error) {
	h, err := bigcommerce.ReadListed(raw)
	if h.ID == 0 {
		return listedOrder{}, err
	}
	o := listedOrder{UpdatedAt: h.Modified, Raw: raw}
	o.Ref = h.Ref()
	if err != nil {
		o.err = err
		return o, nil
	}
	m, err := bigcommerce.ListedMessage(s.src.Setting("store_hash", ""), bigcommerce.ScopeOrderUpdated, h)
	if err != nil {
		o.err = err
		return o, nil
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
	o.err = fmt.Errorf("BigCommerce's order %s yields no order snapshot", o.Ref)
	return o, nil
}

// replay builds the webhook BigCommerce would have sent: store/order/created
// (the order is new here) or store/order/updated naming the order, under
// "reconciliation:order:<id>:<date_modified>".
func (s bigcommerceStore) replay(o listedOrder, ours *domain.Order, need domain.OrderRepair) ([]domain.InboxEntry, error) {
	if !need.Snapshot {
		return nil, nil
	}
	h, err := bigcommerce.ReadListed(o.Raw)
	if err != nil {
		return nil, err
	}
	scope := bigcommerce.ScopeOrderUpdated
	if ours == nil || ours.Status == domain.StatusPending {
		scope = bigcommerce.ScopeOrderCreated
	}
	m, err := bigcommerce.ListedMessage(s.src.Setting("store_hash", ""), scope, h)
	if err != nil {
		return nil, err
	}
	return []domain.InboxEntry{{Source: s.src.ID, Provider: s.src.Provider, EventID: m.ID, EventType: m.Type,
		Body: m.Payload, OccurredAt: m.OccurredAt}}, nil
}
