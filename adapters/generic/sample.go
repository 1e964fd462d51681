package generic

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes lists the types NewSample builds, the most useful first (webhook.Simulator).
func SampleTypes() []string {
	return []string{
		string(domain.OrderPlaced), string(domain.OrderUpdated), string(domain.OrderCancelled), string(domain.OrderFulfilled),
		string(domain.PaymentAuthorized), string(domain.PaymentSucceeded), string(domain.PaymentFailed), string(domain.PaymentRefunded),
		string(domain.DisputeOpened), string(domain.DisputeClosed), string(domain.InventoryLevelSet), string(domain.CustomerUpserted),
	}
}

// Flow is one order's life in the format (webhook.Simulator).
func Flow() []string {
	return []string{string(domain.OrderPlaced), string(domain.PaymentAuthorized), string(domain.PaymentSucceeded), string(domain.OrderFulfilled)}
}

// Sample is a sample delivery's content before the transport adds its id and type and
// signs it.
type Sample struct {
	ID  string         // the event id: SampleOptions.EventID, or idPrefix and random hex
	Now time.Time      // the time it is sent (SampleOptions.Now, or the current time)
	Doc map[string]any // {"timestamp": …, "data": {…}}: the body without id and type
}

// NewSample builds a sample of eventType from o. Returns EINVALID naming the types it
// can build when eventType is not one of them; kind names the adapter in that message.
func NewSample(kind, idPrefix, eventType string, o webhook.SampleOptions) (Sample, error) {
	t := domain.EventType(eventType)
	fam, ok := family[t]
	if !ok {
		return Sample{}, domain.Errorf(domain.EINVALID, "%s: cannot simulate %q; try one of: %s", kind, eventType, strings.Join(SampleTypes(), ", "))
	}
	o.FillDefaults()
	if o.EventID == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		o.EventID = idPrefix + hex.EncodeToString(b)
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	now := o.Now.UTC().Truncate(time.Millisecond)
	cur := strings.ToUpper(o.Currency)
	d := map[string]any{"occurred_at": now.Format(time.RFC3339Nano)}
	payRef := "pay_" + o.OrderRef
	switch fam {
	case partOrder:
		d["order_ref"], d["customer_ref"], d["version"] = o.OrderRef, "cus_"+o.OrderRef, now.UnixMilli()
		d["order"] = domain.OrderSnapshot{Status: orderStatus(t), Currency: cur, Total: o.Amount * o.Quantity,
			Lines: []domain.Line{{SKU: o.SKU, Quantity: o.Quantity, UnitPrice: o.Amount}}}
	case partPayment:
		pc := domain.PaymentChange{Amount: o.Amount, Currency: cur}
		switch t {
		case domain.PaymentFailed:
			pc.Reason = "card_declined"
		case domain.PaymentRefunded:
			pc.RefundRef, pc.Restock, pc.Reason = "ref_"+o.EventID, true, "requested_by_customer"
		}
		d["order_ref"], d["payment_ref"], d["payment"] = o.OrderRef, payRef, pc
	case partDispute:
		status := "needs_response"
		if t == domain.DisputeClosed {
			status = "lost"
		}
		d["order_ref"], d["payment_ref"] = o.OrderRef, payRef
		d["dispute"] = domain.Dispute{Ref: "dsp_" + o.OrderRef, Amount: o.Amount, Currency: cur, Status: status, Reason: "fraudulent"}
	case partStock:
		d["version"] = now.UnixMilli()
		d["stock"] = domain.StockLevel{SKU: o.SKU, OnHand: o.Quantity}
	case partCustomer:
		d["customer_ref"], d["version"] = "cus_"+o.OrderRef, now.UnixMilli()
		d["customer"] = domain.Customer{Email: "jane.doe@example.com", FirstName: "Jane", LastName: "Doe"}
	}
	return Sample{ID: o.EventID, Now: o.Now, Doc: map[string]any{"timestamp": now.Format(time.RFC3339Nano), "data": d}}, nil
}
