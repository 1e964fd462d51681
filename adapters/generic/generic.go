// Package generic is Tradewind's generic event format: the body that senders we do not
// have a dedicated adapter for (a custom storefront, an ERP, a script) send in Tradewind's
// own terms. The standardwebhooks and hmac adapters both carry it; they own the transport
// (signature, where the id, type and signed timestamp come from) and hand the rest here.
//
// A body is a JSON object
//
//	{"type": "OrderPlaced", "timestamp": "2026-11-24T12:00:00Z", "data": {…}}
//
// whose type (wherever the transport finds it) is a domain event name and whose data
// holds domain.Event's references and exactly the one part of the type's family, shaped
// like domain.Event's JSON: order_ref, payment_ref, customer_ref, optional occurred_at
// (RFC 3339) and version (an integer ≥ 0 that orders snapshots), and one of order,
// payment, dispute, stock or customer. Money is integer minor units beside an ISO 4217
// code (any case; normalized to upper case).
//
// Quirks: data is decoded strictly (an unknown key such as a misspelt "totl" is EINVALID,
// not silently zero). OccurredAt is data.occurred_at, else the body's timestamp, else the
// message's own time (the transport's signed timestamp). An order's status defaults by
// type (placed; cancelled for OrderCancelled, fulfilled for OrderFulfilled) and must agree
// with the type when given. Negative amounts, totals, stock and versions are rejected.
// Any other type is not handled (the adapter stores it as ignored).
//
// docs/generic-format.md describes the format for senders.
package generic

import (
	"bytes"
	"encoding/json"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// The parts of data, one per family of event types, in the order errors name them.
const (
	partOrder    = "order"
	partPayment  = "payment"
	partDispute  = "dispute"
	partStock    = "stock"
	partCustomer = "customer"
)

var partNames = []string{partOrder, partPayment, partDispute, partStock, partCustomer}

// family maps each handled type to the part of data it must carry.
var family = map[domain.EventType]string{
	domain.OrderPlaced:       partOrder,
	domain.OrderUpdated:      partOrder,
	domain.OrderCancelled:    partOrder,
	domain.OrderFulfilled:    partOrder,
	domain.PaymentAuthorized: partPayment,
	domain.PaymentSucceeded:  partPayment,
	domain.PaymentFailed:     partPayment,
	domain.PaymentRefunded:   partPayment,
	domain.DisputeOpened:     partDispute,
	domain.DisputeClosed:     partDispute,
	domain.InventoryLevelSet: partStock,
	domain.CustomerUpserted:  partCustomer,
}

// Handles reports whether eventType is a domain event name the format carries.
func Handles(eventType string) bool {
	_, ok := family[domain.EventType(eventType)]
	return ok
}

// orderStatus is the status an order event of type t implies.
func orderStatus(t domain.EventType) domain.OrderStatus {
	switch t {
	case domain.OrderCancelled:
		return domain.StatusCancelled
	case domain.OrderFulfilled:
		return domain.StatusFulfilled
	}
	return domain.StatusPlaced
}

// data is the body's "data": domain.Event's references and parts.
type data struct {
	OccurredAt  *string               `json:"occurred_at"`
	Version     int64                 `json:"version"`
	OrderRef    string                `json:"order_ref"`
	PaymentRef  string                `json:"payment_ref"`
	CustomerRef string                `json:"customer_ref"`
	Order       *domain.OrderSnapshot `json:"order"`
	Payment     *domain.PaymentChange `json:"payment"`
	Dispute     *domain.Dispute       `json:"dispute"`
	Stock       *domain.StockLevel    `json:"stock"`
	Customer    *domain.Customer      `json:"customer"`
}

// parts says which parts d carries.
func (d data) parts() map[string]bool {
	return map[string]bool{partOrder: d.Order != nil, partPayment: d.Payment != nil, partDispute: d.Dispute != nil, partStock: d.Stock != nil, partCustomer: d.Customer != nil}
}

// Normalize reads m.Payload, a body in the generic format, as one event of type m.Type
// for provider and src. m.ID becomes the event id and m.OccurredAt the time when the body
// names none. Returns no events and no error when m.Type is not handled, and EINVALID
// saying what is wrong with a body that does not follow the format.
func Normalize(provider string, src domain.Source, m domain.Message) ([]domain.Event, error) {
	t := domain.EventType(m.Type)
	fam, ok := family[t]
	if !ok {
		return nil, nil
	}
	var body struct {
		Timestamp *string         `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(m.Payload, &body); err != nil {
		return nil, webhook.Invalid("body is not a JSON object in Tradewind's generic format: %v", err)
	}
	if len(body.Data) == 0 || string(body.Data) == "null" {
		return nil, webhook.Invalid("%s: body lacks the data object with the event's parts", t)
	}
	var d data
	dec := json.NewDecoder(bytes.NewReader(body.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, webhook.Invalid("%s: data: %v (money is integer minor units; see docs/generic-format.md)", t, err)
	}
	if d.Version < 0 {
		return nil, webhook.Invalid("%s: data.version must not be negative", t)
	}
	ev := domain.Event{
		Type:        t,
		Provider:    provider,
		Source:      src.ID,
		EventID:     m.ID,
		OccurredAt:  m.OccurredAt,
		Version:     d.Version,
		OrderRef:    d.OrderRef,
		PaymentRef:  d.PaymentRef,
		CustomerRef: d.CustomerRef,
	}
	for _, at := range []struct {
		name string
		v    *string
	}{{"timestamp", body.Timestamp}, {"data.occurred_at", d.OccurredAt}} {
		if at.v == nil {
			continue
		}
		tm := webhook.ParseTime(*at.v)
		if tm.IsZero() {
			return nil, webhook.Invalid("%s: %s %q is not an RFC 3339 time", t, at.name, *at.v)
		}
		ev.OccurredAt = tm
	}
	if err := fill(&ev, fam, d); err != nil {
		return nil, err
	}
	return []domain.Event{ev}, nil
}

// fill checks that d carries exactly the part fam, validates it and sets it on ev.
func fill(ev *domain.Event, fam string, d data) error {
	typ := ev.Type
	parts := d.parts()
	for _, p := range partNames {
		if p != fam && parts[p] {
			return webhook.Invalid("%s: data.%s does not belong to this type; send only data.%s", typ, p, fam)
		}
	}
	if !parts[fam] {
		return webhook.Invalid("%s: data.%s is required", typ, fam)
	}
	switch fam {
	case partOrder:
		if ev.OrderRef == "" {
			return webhook.Invalid("%s: data.order_ref is required", typ)
		}
		o := *d.Order
		want := orderStatus(typ)
		switch {
		case o.Status == "":
			o.Status = want
		case o.Status != domain.StatusPlaced && o.Status != domain.StatusFulfilled && o.Status != domain.StatusCancelled:
			return webhook.Invalid("%s: data.order.status %q must be placed, fulfilled or cancelled", typ, o.Status)
		case (typ == domain.OrderCancelled || typ == domain.OrderFulfilled) && o.Status != want:
			return webhook.Invalid("%s: data.order.status %q contradicts the type; use %q or leave it out", typ, o.Status, want)
		}
		if err := money(typ, "order", &o.Currency, "total", o.Total); err != nil {
			return err
		}
		for i, l := range o.Lines {
			if l.SKU == "" || l.Quantity <= 0 || l.UnitPrice < 0 {
				return webhook.Invalid("%s: data.order.lines[%d] needs a sku, a positive quantity and a unit_price ≥ 0", typ, i)
			}
		}
		ev.Order = &o
	case partPayment:
		if ev.PaymentRef == "" {
			return webhook.Invalid("%s: data.payment_ref is required", typ)
		}
		p := *d.Payment
		if err := money(typ, "payment", &p.Currency, "amount", p.Amount); err != nil {
			return err
		}
		if typ != domain.PaymentRefunded && (p.RefundRef != "" || p.Restock) {
			return webhook.Invalid("%s: data.payment.refund_ref and restock belong to PaymentRefunded only", typ)
		}
		ev.Payment = &p
	case partDispute:
		if ev.PaymentRef == "" {
			return webhook.Invalid("%s: data.payment_ref is required", typ)
		}
		ds := *d.Dispute
		if ds.Ref == "" {
			return webhook.Invalid("%s: data.dispute.ref is required", typ)
		}
		if err := money(typ, "dispute", &ds.Currency, "amount", ds.Amount); err != nil {
			return err
		}
		ev.Dispute = &ds
	case partStock:
		s := *d.Stock
		if s.SKU == "" {
			return webhook.Invalid("%s: data.stock.sku is required", typ)
		}
		if s.OnHand < 0 {
			return webhook.Invalid("%s: data.stock.on_hand must not be negative", typ)
		}
		ev.Stock = &s
	case partCustomer:
		if ev.CustomerRef == "" {
			return webhook.Invalid("%s: data.customer_ref is required", typ)
		}
		c := *d.Customer
		ev.Customer = &c
	}
	return nil
}

// money normalizes the currency of data.<part> and rejects a negative amount (named field).
func money(typ domain.EventType, part string, currency *string, field string, amount int64) error {
	cur, err := domain.NormalizeCurrency(*currency)
	if err != nil {
		return webhook.Invalid("%s: data.%s.currency: %s", typ, part, domain.ErrorMessage(err))
	}
	if amount < 0 {
		return webhook.Invalid("%s: data.%s.%s must not be negative", typ, part, field)
	}
	*currency = cur
	return nil
}
