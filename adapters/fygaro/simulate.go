package fygaro

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string { return []string{EventPaymentSucceeded} }

// Flow implements webhook.Simulator: Fygaro tells only of the successful payment.
func (Provider) Flow() []string { return []string{EventPaymentSucceeded} }

// SignJWT returns a compact HS256 JWT of claims, as Fygaro builds the hook's jwt.
func SignJWT(secret, kid string, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig := webhook.HMACSHA256([]byte(secret), []byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Sample implements webhook.Simulator. o.EventID becomes the Fygaro reference, the
// hook's dedupe key.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if eventType != EventPaymentSucceeded {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "fygaro: cannot simulate %q; try one of: %s", eventType, strings.Join(p.SampleTypes(), ", "))
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "fygaro: an API secret is needed to sign (--secret …)")
	}
	o.FillDefaults()
	if o.EventID == "" {
		o.EventID = randomHex(8)
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	cur := strings.ToUpper(o.Currency)
	const kid = "tradewind-sim"
	jwt, err := SignJWT(src.Secrets[0], kid, map[string]any{
		"amount": domain.FormatMinorUnits(o.Amount, cur), "currency": cur, "custom_reference": o.OrderRef,
	})
	if err != nil {
		return webhook.Request{}, err
	}
	body, err := json.Marshal(map[string]any{
		"reference":       "FYG-" + o.EventID,
		"customReference": o.OrderRef,
		"createdAt":       o.Now.Unix(),
		"jwt":             jwt,
	})
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(KeyIDHeader, kid)
	h.Set(SignatureHeader, webhook.SignTimestamped(src.Secrets[0], o.Now.Unix(), body))
	return webhook.Request{Header: h, Body: body}, nil
}
