// Package adyen verifies and normalizes Adyen standard notifications (webhooks).
//
// A delivery is a batch: {"live": "false", "notificationItems": [{"NotificationRequestItem": {…}}]}.
// Signature: one HMAC per item, in the item itself: additionalData.hmacSignature =
// base64(HMAC-SHA256(hex-decoded key, pspReference:originalReference:merchantAccountCode:
// merchantReference:value:currency:eventCode:success)), empty strings for missing fields.
// Every item must verify under one of the source's keys or the whole delivery is rejected.
// No timestamp is signed. Dedupe on pspReference:eventCode:success, per item: Parse returns
// one message per item whose payload is that item's JSON.
//
// Quirks: the scheme signs those eight fields, not the bytes, so fields outside them
// (eventDate, reason, additionalData, paymentMethod) are not authenticated. Amounts are
// in Adyen's minor units, which are ISO 4217's except for CLP, CVE, IDR and ISK (Units):
// the signature covers the raw value, the normalized event holds ISO units.
// merchantReference is the order ref. Adyen expects the literal body
// "[accepted]" (Ack) in the 2xx answer; the ingress writes it.
package adyen

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of Adyen sources.
const Kind = "adyen"

// Ack is the body Adyen expects in the answer to a notification it should not resend.
// Writing it is the ingress's job.
const Ack = "[accepted]"

// Provider is the Adyen adapter. The zero value is ready to use.
type Provider struct{}

var (
	_ domain.Provider   = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	if len(src.Secrets) == 0 {
		return domain.Errorf(domain.EINVALID, "secrets: an Adyen source needs the webhook's HMAC key (Customer Area → Developers → Webhooks → HMAC key), as the hex string Adyen shows")
	}
	for i, s := range src.Secrets {
		if _, err := hexKey(s); err != nil {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: %s", i, domain.ErrorMessage(err))
		}
	}
	return nil
}

func hexKey(s string) ([]byte, error) {
	if s == "" {
		return nil, domain.Errorf(domain.EINVALID, "empty; set it to the webhook's HMAC key")
	}
	k, err := hex.DecodeString(s)
	if err != nil || len(k) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "not a hex string; Adyen's HMAC key is hex (64 characters), copy it from the Customer Area")
	}
	return k, nil
}

// Amount is an item's amount, in Adyen's minor units (see Units).
type Amount struct {
	Value    int64  `json:"value"`
	Currency string `json:"currency"`
}

// Item is one NotificationRequestItem.
type Item struct {
	AdditionalData      map[string]any `json:"additionalData,omitempty"`
	Amount              Amount         `json:"amount"`
	EventCode           string         `json:"eventCode"`
	EventDate           string         `json:"eventDate,omitempty"`
	MerchantAccountCode string         `json:"merchantAccountCode"`
	MerchantReference   string         `json:"merchantReference"`
	OriginalReference   string         `json:"originalReference,omitempty"`
	PaymentMethod       string         `json:"paymentMethod,omitempty"`
	PSPReference        string         `json:"pspReference"`
	Reason              string         `json:"reason,omitempty"`
	Success             string         `json:"success"`
}

// SigningString is the string an item's HMAC covers.
func (it Item) SigningString() string {
	return strings.Join([]string{
		it.PSPReference, it.OriginalReference, it.MerchantAccountCode, it.MerchantReference,
		strconv.FormatInt(it.Amount.Value, 10), it.Amount.Currency, it.EventCode, it.Success,
	}, ":")
}

// ID is the item's dedupe key: pspReference:eventCode:success.
func (it Item) ID() string { return it.PSPReference + ":" + it.EventCode + ":" + it.Success }

// Sign returns additionalData.hmacSignature for it under a hex HMAC key.
func Sign(hexHMACKey string, it Item) (string, error) {
	k, err := hexKey(hexHMACKey)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(webhook.HMACSHA256(k, []byte(it.SigningString()))), nil
}

type batch struct {
	Live              string `json:"live"`
	NotificationItems []struct {
		Item json.RawMessage `json:"NotificationRequestItem"`
	} `json:"notificationItems"`
}

func decodeItem(raw []byte) (Item, error) {
	var it Item
	if err := webhook.DecodeJSON(raw, &it); err != nil {
		return it, webhook.Invalid("NotificationRequestItem: %v", err)
	}
	return it, nil
}

// items decodes a batch into its items and their raw JSON.
func items(body []byte) ([]Item, [][]byte, error) {
	var b batch
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, nil, webhook.Invalid("body is not an Adyen notification: %v", err)
	}
	if len(b.NotificationItems) == 0 {
		return nil, nil, webhook.Invalid("Adyen notification has no notificationItems")
	}
	its := make([]Item, len(b.NotificationItems))
	raws := make([][]byte, len(b.NotificationItems))
	for i, n := range b.NotificationItems {
		if len(n.Item) == 0 || string(n.Item) == "null" {
			return nil, nil, webhook.Invalid("notificationItems[%d] has no NotificationRequestItem", i)
		}
		it, err := decodeItem(n.Item)
		if err != nil {
			return nil, nil, webhook.Invalid("notificationItems[%d]: %s", i, domain.ErrorMessage(err))
		}
		its[i], raws[i] = it, n.Item
	}
	return its, raws, nil
}

// Verify implements domain.Provider.
func (Provider) Verify(_ context.Context, src domain.Source, d domain.Delivery) error {
	if err := webhook.RequireSecrets(src); err != nil {
		return err
	}
	keys := make([][]byte, len(src.Secrets))
	for i, s := range src.Secrets {
		k, err := hexKey(s)
		if err != nil {
			return webhook.Reject("secrets[%d] of source %q is not a usable HMAC key: %s", i, src.ID, domain.ErrorMessage(err))
		}
		keys[i] = k
	}
	its, _, err := items(d.Body)
	if err != nil {
		return webhook.Reject("cannot verify: %s", domain.ErrorMessage(err))
	}
	for i, it := range its {
		s, _ := it.AdditionalData["hmacSignature"].(string)
		if s == "" {
			return webhook.Reject("notificationItems[%d] has no additionalData.hmacSignature; enable HMAC signing for this webhook in the Customer Area", i)
		}
		sig, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return webhook.Reject("notificationItems[%d]: hmacSignature is not base64", i)
		}
		msg := []byte(it.SigningString())
		expected := make([][]byte, len(keys))
		for j, k := range keys {
			expected[j] = webhook.HMACSHA256(k, msg)
		}
		if !webhook.MatchAny(expected, [][]byte{sig}) {
			return webhook.Reject("notificationItems[%d] (pspReference %q): hmacSignature matches no configured HMAC key; the whole delivery is rejected; check the source's secret is this webhook's HMAC key", i, it.PSPReference)
		}
	}
	return nil
}

// Parse implements domain.Provider: one message per notification item.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	its, raws, err := items(d.Body)
	if err != nil {
		return nil, err
	}
	msgs := make([]domain.Message, len(its))
	for i, it := range its {
		if it.PSPReference == "" || it.EventCode == "" {
			return nil, webhook.Invalid("notificationItems[%d] lacks pspReference or eventCode", i)
		}
		msgs[i] = domain.Message{ID: it.ID(), Type: it.EventCode, OccurredAt: webhook.ParseTime(it.EventDate), Payload: raws[i]}
	}
	return msgs, nil
}

var handled = map[string]bool{
	"AUTHORISATION":              true,
	"CAPTURE":                    true,
	"CAPTURE_FAILED":             true,
	"CANCELLATION":               true,
	"REFUND":                     true,
	"REFUND_FAILED":              true,
	"CHARGEBACK":                 true,
	"NOTIFICATION_OF_CHARGEBACK": true,
	"CHARGEBACK_REVERSED":        true,
}

// Handles implements domain.Provider.
func (Provider) Handles(eventType string) bool { return handled[eventType] }

// Normalize implements domain.Provider. m.Payload is one NotificationRequestItem.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	it, err := decodeItem(m.Payload)
	if err != nil {
		return nil, err
	}
	if !handled[it.EventCode] {
		return nil, nil
	}
	if it.PSPReference == "" {
		return nil, webhook.Invalid("%s item lacks pspReference", it.EventCode)
	}
	cur, err := domain.NormalizeCurrency(it.Amount.Currency)
	if err != nil {
		return nil, err
	}
	// amount.value is in Adyen's units (CLP, CVE, IDR and ISK differ from ISO 4217); the
	// event holds ISO minor units. Verify signed the raw value.
	value, err := Units.FromProvider(it.Amount.Value, cur)
	if err != nil {
		return nil, err
	}
	ok := it.Success == "true"
	// The payment is the original authorisation: modifications (capture, refund, …)
	// carry their own pspReference and name the payment in originalReference.
	payment := it.OriginalReference
	if payment == "" {
		payment = it.PSPReference
	}
	ev := domain.Event{
		Provider: Kind, Source: src.ID, EventID: it.ID(), OccurredAt: webhook.ParseTime(it.EventDate),
		OrderRef: it.MerchantReference, PaymentRef: payment,
	}
	pay := func(t domain.EventType, reason string) []domain.Event {
		ev.Type = t
		ev.Payment = &domain.PaymentChange{Amount: value, Currency: cur, Reason: reason}
		return []domain.Event{ev}
	}
	switch it.EventCode {
	case "AUTHORISATION":
		ev.PaymentRef = it.PSPReference
		if ok {
			return pay(domain.PaymentAuthorized, ""), nil
		}
		return pay(domain.PaymentFailed, it.Reason), nil
	case "CAPTURE":
		if ok {
			return pay(domain.PaymentSucceeded, ""), nil
		}
		return pay(domain.PaymentFailed, strings.TrimSpace("capture failed "+it.Reason)), nil
	case "CAPTURE_FAILED":
		return pay(domain.PaymentFailed, strings.TrimSpace("capture failed "+it.Reason)), nil
	case "CANCELLATION":
		if !ok { // the cancellation itself failed: the payment stands
			return nil, nil
		}
		return pay(domain.PaymentFailed, "cancelled"), nil
	case "REFUND":
		if !ok {
			return nil, nil
		}
		evs := pay(domain.PaymentRefunded, it.Reason)
		evs[0].Payment.RefundRef = it.PSPReference
		return evs, nil
	case "REFUND_FAILED":
		// A refund Adyen had accepted was later declined. Tradewind only records a
		// refund on REFUND success=true, so there is nothing to undo.
		return nil, nil
	case "CHARGEBACK", "NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK_REVERSED":
		ev.Type = domain.DisputeOpened
		status := strings.ToLower(it.EventCode)
		if it.EventCode == "CHARGEBACK_REVERSED" {
			ev.Type, status = domain.DisputeClosed, "won"
		}
		// Standard notifications carry no dispute id: the dispute is named by its payment,
		// so the opening and the reversal meet on one dispute.
		ev.Dispute = &domain.Dispute{Ref: payment, Amount: value, Currency: cur, Status: status, Reason: it.Reason}
		return []domain.Event{ev}, nil
	}
	return nil, nil
}

// Acknowledgement implements domain.Acknowledger: Adyen wants the literal
// "[accepted]" as the body of its 2xx answer, or it retries.
func (Provider) Acknowledgement() (string, []byte) { return "text/plain", []byte(Ack) }

var _ domain.Acknowledger = Provider{}
