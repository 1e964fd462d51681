package hmac

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
		string(domain.PaymentSucceeded), string(domain.PaymentAuthorized), string(domain.PaymentFailed), string(domain.PaymentRefunded),
		string(domain.OrderPlaced), string(domain.OrderUpdated), string(domain.OrderCancelled), string(domain.OrderFulfilled),
		string(domain.InventoryLevelSet), string(domain.CustomerUpserted), string(domain.DisputeOpened), string(domain.DisputeClosed),
	}
}

// Flow implements webhook.Simulator: one order's life.
func (Provider) Flow() []string {
	return []string{string(domain.OrderPlaced), string(domain.PaymentAuthorized), string(domain.PaymentSucceeded), string(domain.OrderFulfilled)}
}

// set puts v at the dot path p of doc, creating objects on the way.
func set(doc map[string]any, p []string, v any) {
	for _, k := range p[:len(p)-1] {
		next, ok := doc[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[k] = next
		}
		doc = next
	}
	doc[p[len(p)-1]] = v
}

// Sample implements webhook.Simulator: a body in the generic format, with its id and
// type at the source's id_path and type_path, signed as the source's settings say.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	t := domain.EventType(eventType)
	fam, ok := family[t]
	if !ok {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "hmac: cannot simulate %q; try one of: %s", eventType, strings.Join(p.SampleTypes(), ", "))
	}
	c, err := readConfig(src)
	if err != nil {
		return webhook.Request{}, err
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "hmac: a shared secret is needed (--secret …)")
	}
	o.FillDefaults()
	if o.EventID == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		o.EventID = "evt_" + hex.EncodeToString(b)
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	cur := strings.ToUpper(o.Currency)
	d := map[string]any{"occurred_at": o.Now.UTC().Format(time.RFC3339), "order_ref": o.OrderRef}
	switch fam {
	case "order":
		status := defaultStatus[t]
		d["version"] = o.Now.UnixMilli()
		d["customer_ref"] = "cus_" + o.OrderRef
		d["order"] = domain.OrderSnapshot{Status: status, Currency: cur, Total: o.Amount * o.Quantity,
			Lines: []domain.Line{{SKU: o.SKU, Quantity: o.Quantity, UnitPrice: o.Amount}}}
	case "payment":
		d["payment_ref"] = "pay_" + o.OrderRef
		pc := domain.PaymentChange{Amount: o.Amount, Currency: cur}
		switch t {
		case domain.PaymentFailed:
			pc.Reason = "card_declined"
		case domain.PaymentRefunded:
			pc.RefundRef = "re_" + o.EventID
		}
		d["payment"] = pc
	case "dispute":
		d["payment_ref"] = "pay_" + o.OrderRef
		status := "needs_response"
		if t == domain.DisputeClosed {
			status = "won"
		}
		d["dispute"] = domain.Dispute{Ref: "dp_" + o.OrderRef, Amount: o.Amount, Currency: cur, Status: status, Reason: "fraudulent"}
	case "stock":
		delete(d, "order_ref")
		d["stock"] = domain.StockLevel{SKU: o.SKU, OnHand: o.Quantity}
	case "customer":
		delete(d, "order_ref")
		d["customer_ref"] = "cus_" + o.OrderRef
		d["customer"] = domain.Customer{Email: "buyer" + o.OrderRef + "@example.com", FirstName: "Ada", LastName: "Lovelace"}
	}
	doc := map[string]any{"data": d}
	set(doc, c.idPath, o.EventID)
	set(doc, c.typePath, eventType)
	body, err := json.Marshal(doc)
	if err != nil {
		return webhook.Request{}, err
	}
	sig, ts, err := Sign(src, src.Secrets[0], body, o.Now)
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(c.header, sig)
	if ts != "" {
		h.Set(c.timestampHeader, ts)
	}
	return webhook.Request{Header: h, Body: body}, nil
}
