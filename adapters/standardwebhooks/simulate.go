package standardwebhooks

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string {
	return []string{
		string(domain.OrderPlaced), string(domain.OrderUpdated), string(domain.OrderCancelled), string(domain.OrderFulfilled),
		string(domain.PaymentAuthorized), string(domain.PaymentSucceeded), string(domain.PaymentFailed), string(domain.PaymentRefunded),
		string(domain.DisputeOpened), string(domain.DisputeClosed), string(domain.InventoryLevelSet), string(domain.CustomerUpserted),
	}
}

// Flow implements webhook.Simulator: one order's life.
func (Provider) Flow() []string {
	return []string{string(domain.OrderPlaced), string(domain.PaymentAuthorized), string(domain.PaymentSucceeded), string(domain.OrderFulfilled)}
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "msg_" + hex.EncodeToString(b)
}

// Sample implements webhook.Simulator. The webhook-id is EventID (random when empty), so
// a repeated EventID is a duplicate delivery.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if handled[eventType] == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "standardwebhooks: cannot simulate %q; try one of: %s", eventType, strings.Join(p.SampleTypes(), ", "))
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "standardwebhooks: a signing secret is needed (--secret whsec_…)")
	}
	key, err := DecodeSecret(src.Secrets[0])
	if err != nil {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "standardwebhooks: secrets[0]: %s", domain.ErrorMessage(err))
	}
	o.FillDefaults()
	if o.EventID == "" {
		o.EventID = randomID()
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	now := o.Now.UTC().Truncate(time.Millisecond)
	d := map[string]any{"occurred_at": now.Format(time.RFC3339Nano)}
	payRef := "pay_" + o.OrderRef
	switch handled[eventType] {
	case famOrder:
		status := domain.StatusPlaced
		switch domain.EventType(eventType) {
		case domain.OrderCancelled:
			status = domain.StatusCancelled
		case domain.OrderFulfilled:
			status = domain.StatusFulfilled
		}
		d["order_ref"], d["customer_ref"], d["version"] = o.OrderRef, "cus_"+o.OrderRef, now.UnixMilli()
		d["order"] = domain.OrderSnapshot{Status: status, Currency: o.Currency, Total: o.Amount * o.Quantity,
			Lines: []domain.Line{{SKU: o.SKU, Quantity: o.Quantity, UnitPrice: o.Amount}}}
	case famPayment:
		pc := domain.PaymentChange{Amount: o.Amount, Currency: o.Currency}
		switch domain.EventType(eventType) {
		case domain.PaymentFailed:
			pc.Reason = "card_declined"
		case domain.PaymentRefunded:
			pc.RefundRef, pc.Restock, pc.Reason = "ref_"+o.EventID, true, "requested_by_customer"
		}
		d["order_ref"], d["payment_ref"], d["payment"] = o.OrderRef, payRef, pc
	case famDispute:
		status := "needs_response"
		if eventType == string(domain.DisputeClosed) {
			status = "lost"
		}
		d["order_ref"], d["payment_ref"] = o.OrderRef, payRef
		d["dispute"] = domain.Dispute{Ref: "dsp_" + o.OrderRef, Amount: o.Amount, Currency: o.Currency, Status: status, Reason: "fraudulent"}
	case famStock:
		d["version"] = now.UnixMilli()
		d["stock"] = domain.StockLevel{SKU: o.SKU, OnHand: o.Quantity}
	case famCustomer:
		d["customer_ref"], d["version"] = "cus_"+o.OrderRef, now.UnixMilli()
		d["customer"] = domain.Customer{Email: "jane.doe@example.com", FirstName: "Jane", LastName: "Doe"}
	}
	body, err := json.Marshal(map[string]any{"type": eventType, "timestamp": now.Format(time.RFC3339Nano), "data": d})
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	SetHeaders(h, key, o.EventID, o.Now.Unix(), body)
	return webhook.Request{Header: h, Body: body}, nil
}
