package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
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
	api.Sleep = r.p.Sleep
	api.OnRetry = func(err error) { rep.errorf("%v", err) }
	s, err := newRun(r, src, req, rep)
	if err != nil {
		return err
	}
	return reconcileStorefront(ctx, s, shopifyStore{api: api, src: src, prov: s.prov}, req)
}

type shopifyStore struct {
	api  *shopify.API
	src  domain.Source
	prov domain.Provider
}

func (s shopifyStore) orders(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error] {
	return s.api.Orders(ctx, since, until)
}

func (s shopifyStore) order(ctx context.Context, ref string) (json.RawMessage, bool, error) {
	return s.api.Order(ctx, ref)
}

// read states a listed order through the adapter's own normalization of an
// orders/updated body: the snapshot and version its webhooks would carry.
func (s shopifyStore) read(raw json.RawMessage) (listedOrder, error) {
	h, err := shopify.ReadListed(raw)
	if err != nil {
		return listedOrder{}, err
	}
	ref := strconv.FormatInt(h.ID, 10)
	o := listedOrder{UpdatedAt: h.UpdatedAt, Raw: raw}
	o.Ref = ref
	o.PaymentStatus = shopify.PaymentStatus(h.FinancialStatus)
	o.Refunded = len(h.Refunds) > 0
	evs, err := s.prov.Normalize(s.src, domain.Message{ID: "listed:" + ref, Type: shopify.TopicOrdersUpdated, OccurredAt: h.UpdatedAt, Payload: raw})
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
	o.err = fmt.Errorf("Shopify's order %s yields no order snapshot", ref)
	return o, nil
}

// replay builds the webhooks Shopify would have sent: orders/create (the order
// is new here) or orders/updated with the listed order as the body, under
// "reconciliation:order:<id>:<updated_at>"; orders/paid with the same body
// ("…:paid"); refunds/create with each listed refund ("reconciliation:refund:<id>").
func (s shopifyStore) replay(o listedOrder, ours *domain.Order, need domain.OrderRepair) ([]domain.InboxEntry, error) {
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
