package reconcile

import (
	"context"
	"encoding/json"

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
	api.Sleep, api.OnRetry = r.p.Sleep, rep.retried
	return reconcileStorefront(ctx, r, src, req, rep, api, bigcommerceOrders{src: src})
}

// bigcommerceOrders is how BigCommerce's listed orders read and replay.
type bigcommerceOrders struct {
	src domain.Source
}

func (bigcommerceOrders) name() string { return "BigCommerce" }

// head reads a listed order and the store/order/updated webhook that carries
// it (bigcommerce.ListedMessage).
func (s bigcommerceOrders) head(raw json.RawMessage) (listedOrder, domain.Message, error) {
	h, err := bigcommerce.ReadListed(raw)
	if h.ID == 0 {
		return listedOrder{}, domain.Message{}, err
	}
	o := listedOrder{UpdatedAt: h.Modified, Raw: raw}
	o.Ref = h.Ref()
	if err != nil {
		o.err = err
		return o, domain.Message{}, nil
	}
	m, err := bigcommerce.ListedMessage(s.src.Setting("store_hash", ""), bigcommerce.ScopeOrderUpdated, h)
	o.err = err
	return o, m, nil
}

// replay builds the webhook BigCommerce would have sent: store/order/created
// (the order is new here) or store/order/updated naming the order, under
// "reconciliation:order:<id>:<date_modified>".
func (s bigcommerceOrders) replay(o listedOrder, ours *domain.Order, need domain.OrderRepair) ([]domain.InboxEntry, error) {
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
