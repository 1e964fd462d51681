package adyen

import (
	"crypto/rand"
	"crypto/sha256"
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
		"AUTHORISATION", "CAPTURE", "CAPTURE_FAILED", "CANCELLATION", "REFUND", "REFUND_FAILED",
		"CHARGEBACK", "NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK_REVERSED",
	}
}

// Flow implements webhook.Simulator: one payment's life.
func (Provider) Flow() []string { return []string{"AUTHORISATION", "CAPTURE", "REFUND"} }

// Batch implements webhook.Batcher: Adyen batches notifications.
func (Provider) Batch(reqs []webhook.Request) (webhook.Request, error) { return Batch(reqs) }

// pspRef derives a 16-character Adyen-style pspReference from seed.
func pspRef(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Sample implements webhook.Simulator: a one-item batch signed with src.Secrets[0].
// The payment's pspReference derives from the order ref, so modifications of one order
// name one payment. An AUTHORISATION's own pspReference is that payment reference unless
// o.EventID is set, in which case it derives from the event id (the dedupe key must follow
// the event id); modifications always take theirs from the event id.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if !handled[eventType] {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "adyen: cannot simulate %q; try one of: %s", eventType, strings.Join(p.SampleTypes(), ", "))
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "adyen: an HMAC key (hex) is needed (--secret …)")
	}
	if o.Currency == "" { // set before FillDefaults, whose default is USD
		o.Currency = "EUR"
	}
	o.FillDefaults()
	value, err := Units.ToProvider(o.Amount, o.Currency) // o.Amount is ISO minor units
	if err != nil {
		return webhook.Request{}, err
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	payment := pspRef("payment:" + o.OrderRef)
	own := pspRef("event:" + o.EventID)
	if o.EventID == "" {
		own = pspRef("event:" + randomHex(8))
	}
	it := Item{
		AdditionalData:      map[string]any{},
		Amount:              Amount{Value: value, Currency: strings.ToUpper(o.Currency)},
		EventCode:           eventType,
		EventDate:           o.Now.UTC().Format(time.RFC3339),
		MerchantAccountCode: "TradewindSimECOM",
		MerchantReference:   o.OrderRef,
		OriginalReference:   payment,
		PaymentMethod:       "visa",
		PSPReference:        own,
		Success:             "true",
	}
	switch eventType {
	case "AUTHORISATION":
		it.OriginalReference = ""
		if o.EventID == "" {
			it.PSPReference = payment
		}
		it.AdditionalData["authCode"] = "058158"
		it.Reason = "058158:1111:03/2030"
	case "CAPTURE_FAILED":
		it.Reason = "Insufficient balance on payment"
	case "REFUND_FAILED":
		it.Reason = "Refund declined by acquirer"
	case "CHARGEBACK", "NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK_REVERSED":
		it.Reason = "Fraud"
		it.AdditionalData["chargebackReasonCode"] = "10.4"
	}
	sig, err := Sign(src.Secrets[0], it)
	if err != nil {
		return webhook.Request{}, err
	}
	it.AdditionalData["hmacSignature"] = sig
	body, err := json.Marshal(map[string]any{
		"live":              "false",
		"notificationItems": []any{map[string]any{"NotificationRequestItem": it}},
	})
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return webhook.Request{Header: h, Body: body}, nil
}
