package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
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
	api.Sleep = r.p.Sleep
	api.OnRetry = func(err error) { rep.errorf("%v", err) }
	s, err := newRun(r, src, req, rep)
	if err != nil {
		return err
	}
	return reconcileStorefront(ctx, s, wooStore{api: api, src: src, prov: s.prov}, req)
}

type wooStore struct {
	api  *woocommerce.API
	src  domain.Source
	prov domain.Provider
}

func (s wooStore) orders(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error] {
	return s.api.Orders(ctx, since, until)
}

func (s wooStore) order(ctx context.Context, ref string) (json.RawMessage, bool, error) {
	return s.api.Order(ctx, ref)
}

// read states a listed order through the adapter's own normalization of an
// order.updated body.
func (s wooStore) read(raw json.RawMessage) (listedOrder, error) {
	id, at, err := woocommerce.ListedHead(raw)
	if id == 0 {
		return listedOrder{}, err
	}
	o := listedOrder{UpdatedAt: at, Raw: raw}
	o.Ref = strconv.FormatInt(id, 10)
	if err != nil {
		o.err = err
		return o, nil
	}
	evs, err := s.prov.Normalize(s.src, domain.Message{ID: "listed:" + o.Ref, Type: woocommerce.TopicOrderUpdated, OccurredAt: at, Payload: raw})
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
	o.err = fmt.Errorf("WooCommerce's order %s yields no order snapshot", o.Ref)
	return o, nil
}

// replay builds the webhook WooCommerce would have sent: order.created (the
// order is new here) or order.updated, the listed order as its body, under
// "reconciliation:order:<id>:<date_modified_gmt>".
func (s wooStore) replay(o listedOrder, ours *domain.Order, need domain.OrderRepair) ([]domain.InboxEntry, error) {
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
