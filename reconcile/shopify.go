package reconcile

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/domain"
)

// reconcileShopify reconciles a Shopify source's orders (see storefront.go):
// GET /orders.json lists the window's orders by id; a listed order is the body
// of Shopify's orders/* webhooks, and each of its refunds the body of
// refunds/create, so they are replayed as such.
func reconcileShopify(ctx context.Context, r *Reconciler, src domain.Source, req Request, rep *report) error {
	api, err := shopify.NewAPI(src, r.p.HTTP)
	if err != nil {
		return err
	}
	api.Sleep, api.OnRetry = r.p.Sleep, rep.retried
	return reconcileStorefront(ctx, r, src, req, rep, api, shopifyOrders{src: src})
}

// shopifyOrders is how Shopify's listed orders read and replay.
type shopifyOrders struct {
	src domain.Source
}

func (shopifyOrders) name() string { return "Shopify" }

// head reads a listed order, which is the body of an orders/updated webhook;
// the listing also states its payment status and whether it has refunds.
func (shopifyOrders) head(raw json.RawMessage) (listedOrder, domain.Message, error) {
	h, err := shopify.ReadListed(raw)
	if err != nil {
		return listedOrder{}, domain.Message{}, err
	}
	o := listedOrder{UpdatedAt: h.UpdatedAt, Raw: raw}
	o.Ref = strconv.FormatInt(h.ID, 10)
	o.PaymentStatus = shopify.PaymentStatus(h.FinancialStatus)
	o.Refunded = len(h.Refunds) > 0
	return o, domain.Message{ID: "listed:" + o.Ref, Type: shopify.TopicOrdersUpdated, OccurredAt: h.UpdatedAt, Payload: raw}, nil
}

// replay builds the webhooks Shopify would have sent: orders/create (the order
// is new here) or orders/updated with the listed order as the body, under
// "reconciliation:order:<id>:<updated_at>"; orders/paid with the same body
// ("…:paid"); refunds/create with each listed refund ("reconciliation:refund:<id>").
func (s shopifyOrders) replay(o listedOrder, ours *domain.Order, need domain.OrderRepair) ([]domain.InboxEntry, error) {
	h, err := shopify.ReadListed(o.Raw)
	if err != nil {
		return nil, err
	}
	id := "reconciliation:order:" + o.Ref + ":" + h.UpdatedAt.Format(time.RFC3339)
	entry := func(eventID, topic string, body json.RawMessage, at time.Time) domain.InboxEntry {
		return domain.InboxEntry{Source: s.src.ID, Provider: s.src.Provider, EventID: eventID, EventType: topic, Body: body, OccurredAt: at}
	}
	var out []domain.InboxEntry
	if need.Snapshot {
		topic := shopify.TopicOrdersUpdated
		if ours == nil || ours.Status == domain.StatusPending {
			topic = shopify.TopicOrdersCreate
		}
		out = append(out, entry(id, topic, o.Raw, h.UpdatedAt))
	}
	if need.Paid {
		out = append(out, entry(id+":paid", shopify.TopicOrdersPaid, o.Raw, h.UpdatedAt))
	}
	if need.Refunds {
		for _, raw := range h.Refunds {
			rid, at, err := shopify.RefundHead(raw)
			if err != nil {
				return nil, err
			}
			if at.IsZero() {
				at = h.UpdatedAt
			}
			out = append(out, entry("reconciliation:refund:"+strconv.FormatInt(rid, 10), shopify.TopicRefundsCreate, raw, at))
		}
	}
	return out, nil
}
