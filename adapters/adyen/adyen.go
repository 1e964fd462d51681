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
// merchantReference is the order ref. Disputes: every notification of one dispute carries
// the dispute's pspReference (its id here) and, mostly, the payment in originalReference;
// each code is a stage of Adyen's dispute flow with an outcome (disputeStages), so a
// lost dispute (DISPUTE_DEFENSE_PERIOD_ENDED, SECOND_CHARGEBACK, PREARBITRATION_LOST)
// closes as lost whatever order the notifications arrive in. REFUND_FAILED and
// REFUNDED_REVERSED name the refund (pspReference) that stops counting. Adyen expects the literal body
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
	"AUTHORISATION":     true,
	"CAPTURE":           true,
	"CAPTURE_FAILED":    true,
	"CANCELLATION":      true,
	"CANCEL_OR_REFUND":  true,
	"REFUND":            true,
	"REFUND_FAILED":     true,
	"REFUNDED_REVERSED": true,
}

func init() {
	for code := range disputeStages {
		handled[code] = true
	}
}

// disputeStages says where each dispute notification leaves the dispute: its stage in
// Adyen's dispute flow (a later stage supersedes an earlier one, whatever order the
// notifications arrive in) and its outcome (docs.adyen.com: "Dispute webhooks", "Dispute
// flow", and each event's page in the Webhooks API explorer).
//
//   - REQUEST_FOR_INFORMATION, NOTIFICATION_OF_CHARGEBACK: the dispute opened; no money moved.
//   - INFORMATION_SUPPLIED, ISSUER_COMMENTS: the defence was uploaded, the issuer commented.
//   - CHARGEBACK, DISPUTE_OPENED_WITH_CHARGEBACK: the amount was debited; it can still be
//     defended (the dispute stays open: payment_status disputed).
//   - DISPUTE_DEFENSE_PERIOD_ENDED: not defended in time, or liability accepted: lost.
//   - CHARGEBACK_REVERSED, ISSUER_RESPONSE_TIMEFRAME_EXPIRED: the issuer accepted the
//     defence (or did not answer): the funds come back: won.
//   - SECOND_CHARGEBACK: the issuer declined the defence, the amount is debited again: lost.
//   - PREARBITRATION_WON, PREARBITRATION_LOST: the final word.
//
// additionalData.disputeStatus "Lost" or "Accepted" (liability accepted) makes any of
// them lost, "Won" won; other statuses (Pending, Undefended, Responded, Expired) leave
// the event's own outcome. NOTIFICATION_OF_FRAUD is not a dispute (a fraud report, no
// money moved) and is ignored.
var disputeStages = map[string]struct {
	stage   int
	outcome string
}{
	"REQUEST_FOR_INFORMATION":           {1, domain.DisputeOpen},
	"NOTIFICATION_OF_CHARGEBACK":        {1, domain.DisputeOpen},
	"INFORMATION_SUPPLIED":              {2, domain.DisputeOpen},
	"ISSUER_COMMENTS":                   {2, domain.DisputeOpen},
	"CHARGEBACK":                        {3, domain.DisputeOpen},
	"DISPUTE_OPENED_WITH_CHARGEBACK":    {3, domain.DisputeOpen},
	"DISPUTE_DEFENSE_PERIOD_ENDED":      {4, domain.DisputeLost},
	"CHARGEBACK_REVERSED":               {5, domain.DisputeWon},
	"ISSUER_RESPONSE_TIMEFRAME_EXPIRED": {5, domain.DisputeWon},
	"SECOND_CHARGEBACK":                 {6, domain.DisputeLost},
	"PREARBITRATION_WON":                {7, domain.DisputeWon},
	"PREARBITRATION_LOST":               {7, domain.DisputeLost},
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
	case "CANCEL_OR_REFUND":
		// Adyen cancelled or refunded, as the payment's state allowed: the
		// modification.action it reports says which.
		if !ok {
			return nil, nil
		}
		switch it.AdditionalData["modification.action"] {
		case "refund":
			evs := pay(domain.PaymentRefunded, it.Reason)
			evs[0].Payment.RefundRef = it.PSPReference
			return evs, nil
		case "cancel":
			return pay(domain.PaymentFailed, "cancelled"), nil
		}
		return nil, nil // no action reported: a CANCELLATION or REFUND notification says it
	case "REFUND_FAILED", "REFUNDED_REVERSED":
		// A refund Adyen had accepted (REFUND success=true) was declined by the scheme, or
		// its funds came back: it stops counting. pspReference is the refund's own.
		evs := pay(domain.RefundFailed, strings.ToLower(it.EventCode)+" "+it.Reason)
		evs[0].Payment.Reason = strings.TrimSpace(evs[0].Payment.Reason)
		evs[0].Payment.RefundRef = it.PSPReference
		return evs, nil
	}
	if st, isDispute := disputeStages[it.EventCode]; isDispute {
		outcome := st.outcome
		switch ds, _ := it.AdditionalData["disputeStatus"].(string); ds {
		case "Lost", "Accepted":
			outcome = domain.DisputeLost
		case "Won":
			outcome = domain.DisputeWon
		}
		ev.Type = domain.DisputeOpened
		if outcome != domain.DisputeOpen {
			ev.Type = domain.DisputeClosed
		}
		// Every notification of one dispute carries the dispute's pspReference; the
		// payment is originalReference (absent from some, which then name the dispute only).
		ev.Dispute = &domain.Dispute{Ref: it.PSPReference, Amount: value, Currency: cur, Status: strings.ToLower(it.EventCode),
			Reason: it.Reason, Outcome: outcome, Stage: st.stage}
		return []domain.Event{ev}, nil
	}
	return nil, nil
}

// Acknowledgement implements domain.Acknowledger: Adyen wants the literal
// "[accepted]" as the body of its 2xx answer, or it retries.
func (Provider) Acknowledgement() (string, []byte) { return "text/plain", []byte(Ack) }

var _ domain.Acknowledger = Provider{}
