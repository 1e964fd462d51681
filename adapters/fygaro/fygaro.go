// Package fygaro verifies and normalizes Fygaro payment-button hooks.
//
// Signature: Fygaro-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>[,v1=…],
// several v1 entries while a key is rotated, 300 s tolerance (the scheme Stripe uses; the
// shared webhook.VerifyTimestamped implements it). Fygaro also sends Fygaro-Key-ID naming
// the API key it signed with; Tradewind ignores it and tries every configured secret.
//
// Payload: {"reference", "customReference", "createdAt", "jwt"} (older help pages name the
// first field "transactionReference"; both are read). Fygaro sends a hook only for a
// successful payment and names no event type, so every hook is the Tradewind type
// "payment.succeeded". Dedupe on reference, the Fygaro payment id.
//
// Quirks: amount and currency are not top-level fields; they are claims of the embedded
// JWT ("amount" as a decimal string or number, "currency"). The JWT's own HS256 signature
// is not checked again: the whole body, JWT included, is covered by Fygaro-Signature.
// The order is customReference (the merchant's reference given to the payment button),
// falling back to the JWT's custom_reference claim. createdAt is taken as unix seconds,
// or milliseconds when it is too large to be seconds.
package fygaro

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of Fygaro sources.
const Kind = "fygaro"

// SignatureHeader carries Fygaro's signature; KeyIDHeader names the API key that signed.
const (
	SignatureHeader = "Fygaro-Signature"
	KeyIDHeader     = "Fygaro-Key-ID"
)

// EventPaymentSucceeded is the type Tradewind gives every Fygaro hook: Fygaro sends
// hooks only for successful payments and names no type of its own.
const EventPaymentSucceeded = "payment.succeeded"

// Tolerance is how far Fygaro-Signature's t= may be from the receive time.
const Tolerance = 300 * time.Second

// Provider is the Fygaro adapter. The zero value is ready to use.
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
		return domain.Errorf(domain.EINVALID, "secrets: a Fygaro source needs the API secret of the key selected for hooks (Settings → API Credentials)")
	}
	for i, s := range src.Secrets {
		if strings.TrimSpace(s) == "" {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: empty; set it to the Fygaro API secret or remove it", i)
		}
	}
	return nil
}

// Verify implements domain.Provider.
func (Provider) Verify(_ context.Context, src domain.Source, d domain.Delivery) error {
	return webhook.VerifyTimestamped(src, d.Header.Get(SignatureHeader), d.Body, d.ReceivedAt, Tolerance)
}

// hook is Fygaro's hook body.
type hook struct {
	Reference            string      `json:"reference"`
	TransactionReference string      `json:"transactionReference"`
	CustomReference      string      `json:"customReference"`
	CreatedAt            json.Number `json:"createdAt"`
	JWT                  string      `json:"jwt"`
}

func (h hook) ref() string {
	if h.Reference != "" {
		return h.Reference
	}
	return h.TransactionReference
}

func decode(body []byte) (hook, error) {
	var h hook
	if err := webhook.DecodeJSON(body, &h); err != nil {
		return h, webhook.Invalid("body is not a Fygaro hook: %v", err)
	}
	if h.ref() == "" {
		return h, webhook.Invalid("Fygaro hook lacks reference (the Fygaro payment id)")
	}
	return h, nil
}

// createdAt reads createdAt as unix seconds, or milliseconds when it is too large to be seconds.
func createdAt(n json.Number) time.Time {
	v, err := n.Int64()
	if err != nil || v <= 0 {
		return time.Time{}
	}
	if v > 1e11 { // later than year 5138 in seconds: milliseconds
		return time.UnixMilli(v).UTC()
	}
	return time.Unix(v, 0).UTC()
}

// Parse implements domain.Provider.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	h, err := decode(d.Body)
	if err != nil {
		return nil, err
	}
	return []domain.Message{{ID: h.ref(), Type: EventPaymentSucceeded, OccurredAt: createdAt(h.CreatedAt), Payload: d.Body}}, nil
}

// Handles implements domain.Provider.
func (Provider) Handles(eventType string) bool { return eventType == EventPaymentSucceeded }

// claims are the JWT claims Tradewind reads (the ones Fygaro documents for payment buttons).
type claims struct {
	Amount          json.Number `json:"amount"`
	Currency        string      `json:"currency"`
	CustomReference string      `json:"custom_reference"`
}

// jwtClaims decodes the payload segment of a compact JWS without checking its signature
// (the hook's HMAC already covers it).
func jwtClaims(token string) (claims, error) {
	var c claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, webhook.Invalid("jwt: not a compact JWT (want header.payload.signature)")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, webhook.Invalid("jwt: payload is not base64url: %v", err)
	}
	// json.Number also accepts a quoted number, so "amount": "100.01" and 100.01 both decode.
	if err := webhook.DecodeJSON(raw, &c); err != nil {
		return c, webhook.Invalid("jwt: payload claims: %v", err)
	}
	return c, nil
}

// Normalize implements domain.Provider.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	if m.Type != EventPaymentSucceeded {
		return nil, nil
	}
	h, err := decode(m.Payload)
	if err != nil {
		return nil, err
	}
	if h.JWT == "" {
		return nil, webhook.Invalid("Fygaro hook %s has no jwt; the amount and currency travel in it", h.ref())
	}
	c, err := jwtClaims(h.JWT)
	if err != nil {
		return nil, err
	}
	if c.Amount == "" || c.Currency == "" {
		return nil, webhook.Invalid("Fygaro hook %s: jwt lacks the amount or currency claim", h.ref())
	}
	cur, err := domain.NormalizeCurrency(c.Currency)
	if err != nil {
		return nil, err
	}
	amount, err := domain.ParseMinorUnits(c.Amount.String(), cur)
	if err != nil {
		return nil, err
	}
	order := h.CustomReference
	if order == "" {
		order = c.CustomReference
	}
	return []domain.Event{{
		Type:       domain.PaymentSucceeded,
		Provider:   Kind,
		Source:     src.ID,
		EventID:    h.ref(),
		OccurredAt: createdAt(h.CreatedAt),
		OrderRef:   order,
		PaymentRef: h.ref(),
		Payment:    &domain.PaymentChange{Amount: amount, Currency: cur},
	}}, nil
}
