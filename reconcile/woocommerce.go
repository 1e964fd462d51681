package reconcile

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/tradewind/tradewind/adapters/woocommerce"
	"github.com/tradewind/tradewind/domain"
)

// reconcileWooCommerce reconciles a WooCommerce source's orders (see
// storefront.go): GET /wp-json/wc/v3/orders lists the window's orders by id; a
// listed order is the body of WooCommerce's order.* webhooks, so it is replayed
// as one. WooCommerce states no payment events of its own (the money comes from
// the gateway's webhooks), so orders are compared on status, total and currency.
func reconcileWooCommerce(ctx context.Context, r *Reconciler, src domain.Source, req Request, rep *report) error {
	api, err := woocommerce.NewAPI(src, r.p.HTTP)
	if err != nil {
		return err
	}
	api.Sleep, api.OnRetry = r.p.Sleep, rep.retried
	return reconcileStorefront(ctx, r, src, req, rep, api, wooOrders{src: src})
}

// wooOrders is how WooCommerce's listed orders read and replay.
type wooOrders struct {
	src domain.Source
}

func (wooOrders) name() string { return "WooCommerce" }

// head reads a listed order, which is the body of an order.updated webhook.
func (wooOrders) head(raw json.RawMessage) (listedOrder, domain.Message, error) {
	id, at, err := woocommerce.ListedHead(raw)
	if id == 0 {
		return listedOrder{}, domain.Message{}, err
	}
	o := listedOrder{UpdatedAt: at, Raw: raw}
	o.Ref = strconv.FormatInt(id, 10)
	if err != nil {
		o.err = err
		return o, domain.Message{}, nil
	}
	return o, domain.Message{ID: "listed:" + o.Ref, Type: woocommerce.TopicOrderUpdated, OccurredAt: at, Payload: raw}, nil
}

// replay builds the webhook WooCommerce would have sent: order.created (the
// order is new here) or order.updated, the listed order as its body, under
// "reconciliation:order:<id>:<date_modified_gmt>".
func (s wooOrders) replay(o listedOrder, ours *domain.Order, need domain.OrderRepair) ([]domain.InboxEntry, error) {
	if !need.Snapshot {
		return nil, nil
	}
	topic := woocommerce.TopicOrderUpdated
	if ours == nil || ours.Status == domain.StatusPending {
		topic = woocommerce.TopicOrderCreated
	}
	return []domain.InboxEntry{{Source: s.src.ID, Provider: s.src.Provider, EventType: topic, Body: o.Raw, OccurredAt: o.UpdatedAt,
		EventID: "reconciliation:order:" + o.Ref + ":" + o.UpdatedAt.Format(time.RFC3339)}}, nil
}
