package stripe

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string {
	return []string{
		"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.amount_capturable_updated",
		"charge.succeeded", "charge.refunded", "refund.created",
		"charge.dispute.created", "charge.dispute.closed", "checkout.session.completed",
	}
}

// Flow implements webhook.Simulator: one payment's life.
func (Provider) Flow() []string {
	return []string{"payment_intent.amount_capturable_updated", "payment_intent.succeeded", "charge.refunded"}
}

// RandomID returns prefix followed by 24 random hex digits, like Stripe's ids.
func RandomID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Sample implements webhook.Simulator. Objects of one order share ids derived from
// the order ref, so a flow's events meet on one payment.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if !handled[eventType] {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "stripe: cannot simulate %q; try one of: %s", eventType, strings.Join(p.SampleTypes(), ", "))
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "stripe: a signing secret is needed (--secret whsec_…)")
	}
	o.FillDefaults()
	amount, err := Units.ToProvider(o.Amount, o.Currency) // o.Amount is ISO minor units
	if err != nil {
		return webhook.Request{}, err
	}
	o.Amount = amount // from here on, Stripe's units
	if o.EventID == "" {
		o.EventID = RandomID("evt_")
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	pi := "pi_sim_" + o.OrderRef
	meta := map[string]string{src.OrderRefKey(): o.OrderRef}
	cur := strings.ToLower(o.Currency)

	var obj map[string]any
	switch {
	case strings.HasPrefix(eventType, "payment_intent."):
		obj = map[string]any{
			"id": pi, "object": "payment_intent", "amount": o.Amount, "currency": cur, "metadata": meta,
			"amount_received": 0, "amount_capturable": 0, "status": "requires_payment_method",
		}
		switch eventType {
		case "payment_intent.succeeded":
			obj["amount_received"], obj["status"] = o.Amount, "succeeded"
		case "payment_intent.amount_capturable_updated":
			obj["amount_capturable"], obj["status"] = o.Amount, "requires_capture"
		case "payment_intent.payment_failed":
			obj["last_payment_error"] = map[string]any{"code": "card_declined", "message": "Your card was declined."}
		case "payment_intent.canceled":
			obj["status"] = "canceled"
		}
	case strings.HasPrefix(eventType, "charge.dispute."):
		status := "needs_response"
		if eventType == "charge.dispute.closed" {
			status = "lost"
		}
		obj = map[string]any{
			"id": "dp_sim_" + o.OrderRef, "object": "dispute", "amount": o.Amount, "currency": cur,
			"charge": "ch_sim_" + o.OrderRef, "payment_intent": pi, "status": status, "reason": "fraudulent", "metadata": meta,
		}
	case strings.HasPrefix(eventType, "charge."):
		obj = map[string]any{
			"id": "ch_sim_" + o.OrderRef, "object": "charge", "amount": o.Amount, "amount_captured": o.Amount,
			"captured": true, "currency": cur, "payment_intent": pi, "metadata": meta, "status": "succeeded",
			"amount_refunded": 0, "refunded": false,
		}
		if eventType == "charge.refunded" {
			obj["amount_refunded"], obj["refunded"] = o.Amount, true
		}
	case eventType == "refund.created":
		obj = map[string]any{
			"id": RandomID("re_"), "object": "refund", "amount": o.Amount, "currency": cur,
			"charge": "ch_sim_" + o.OrderRef, "payment_intent": pi, "status": "succeeded", "metadata": meta,
		}
	default: // checkout.session.*
		obj = map[string]any{
			"id": "cs_sim_" + o.OrderRef, "object": "checkout.session", "amount_total": o.Amount, "currency": cur,
			"payment_intent": pi, "payment_status": "paid", "client_reference_id": o.OrderRef, "metadata": meta,
		}
	}
	body, err := json.Marshal(map[string]any{
		"id": o.EventID, "object": "event", "api_version": "2024-06-20", "created": o.Now.Unix(),
		"livemode": false, "pending_webhooks": 1, "type": eventType,
		"data": map[string]any{"object": obj},
	})
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	h.Set(SignatureHeader, webhook.SignTimestamped(src.Secrets[0], o.Now.Unix(), body))
	return webhook.Request{Header: h, Body: body}, nil
}
