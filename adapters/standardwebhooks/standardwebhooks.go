// Package standardwebhooks verifies Standard Webhooks (standardwebhooks.com) deliveries and
// normalizes Tradewind's own generic event format carried in them.
//
// Signature: three headers. webhook-id names the message, webhook-timestamp is unix
// seconds, webhook-signature holds space-separated "v1,<base64>" entries (several while a
// secret is rotated; entries of other versions such as v1a are skipped). Each v1 entry is
// base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)), where key is the secret
// base64-decoded after an optional "whsec_" prefix is stripped. The timestamp must be
// within 5 minutes of the receive time, either way. Every configured secret is tried
// against every entry in constant time. The verify and sign functions are exported so
// that providers that sign with this scheme (BigCommerce) share them.
//
// Dedupe on webhook-id.
//
// Payload: Tradewind's generic event format (package generic, docs/generic-format.md), for
// any sender that can emit Standard Webhooks (a custom storefront, an ERP, a script):
//
//	{"type": "OrderPlaced", "timestamp": "2026-11-24T12:00:00Z", "data": {…}}
//
// The type is the body's "type"; the signed time, when the body gives none, is
// webhook-timestamp.
package standardwebhooks

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/generic"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of Standard Webhooks sources.
const Kind = "standardwebhooks"

// The Standard Webhooks headers, canonicalized.
const (
	IDHeader        = "Webhook-Id"
	TimestampHeader = "Webhook-Timestamp"
	SignatureHeader = "Webhook-Signature"
)

// SecretPrefix starts a Standard Webhooks secret; the rest is the base64 key.
const SecretPrefix = "whsec_"

// Tolerance is how far webhook-timestamp may be from the receive time.
const Tolerance = 5 * time.Minute

// Provider is the Standard Webhooks adapter. The zero value is ready to use.
type Provider struct{}

var (
	_ domain.Provider   = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

// DecodeSecret returns the HMAC key of a Standard Webhooks secret: the standard base64
// after an optional whsec_ prefix. The error never contains the secret.
func DecodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "not a Standard Webhooks secret: expected whsec_ followed by standard base64")
	}
	return key, nil
}

// SignedContent is the signed message: id + "." + timestamp + "." + body.
func SignedContent(id string, ts int64, body []byte) []byte {
	msg := make([]byte, 0, len(id)+len(body)+24)
	msg = append(msg, id...)
	msg = append(msg, '.')
	msg = strconv.AppendInt(msg, ts, 10)
	msg = append(msg, '.')
	return append(msg, body...)
}

// Signature returns one "v1,<base64>" webhook-signature entry for body under key.
func Signature(key []byte, id string, ts int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(webhook.HMACSHA256(key, SignedContent(id, ts, body)))
}

// SetHeaders sets webhook-id, webhook-timestamp and webhook-signature on h as a sender
// would, signing body with key.
func SetHeaders(h http.Header, key []byte, id string, ts int64, body []byte) {
	h.Set(IDHeader, id)
	h.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	h.Set(SignatureHeader, Signature(key, id, ts, body))
}

// VerifyKeys checks the Standard Webhooks headers in h against body: the timestamp within
// tolerance of now, and some v1 entry equal to the signature under some key. Every key is
// compared with every entry, in constant time. Returns EUNAUTHORIZED saying what failed.
func VerifyKeys(keys [][]byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if len(keys) == 0 {
		return webhook.Reject("no signing key is configured; add the endpoint's secret under secrets:")
	}
	id, tsv, sigv := h.Get(IDHeader), h.Get(TimestampHeader), h.Get(SignatureHeader)
	switch {
	case id == "":
		return webhook.Reject("webhook-id header is missing; the sender must follow the Standard Webhooks scheme")
	case tsv == "":
		return webhook.Reject("webhook-timestamp header is missing; the sender must follow the Standard Webhooks scheme")
	case sigv == "":
		return webhook.Reject("webhook-signature header is missing; the sender must sign with its Standard Webhooks secret")
	}
	ts, err := strconv.ParseInt(tsv, 10, 64)
	if err != nil {
		return webhook.Reject("webhook-timestamp %q is not unix seconds", tsv)
	}
	if err := webhook.CheckTimestamp(ts, now, tolerance); err != nil {
		return err
	}
	var candidates [][]byte
	for _, entry := range strings.Fields(sigv) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(sig); err == nil {
			candidates = append(candidates, b)
		}
	}
	if len(candidates) == 0 {
		return webhook.Reject("webhook-signature has no v1,<base64> entry")
	}
	msg := SignedContent(id, ts, body)
	expected := make([][]byte, len(keys))
	for i, k := range keys {
		expected[i] = webhook.HMACSHA256(k, msg)
	}
	if !webhook.MatchAny(expected, candidates) {
		return webhook.Reject("no v1 signature matches any configured secret; check that the source's secret is the endpoint's signing secret")
	}
	return nil
}

// keys decodes src's secrets, failing closed.
func keys(src domain.Source) ([][]byte, error) {
	if err := webhook.RequireSecrets(src); err != nil {
		return nil, err
	}
	out := make([][]byte, len(src.Secrets))
	for i, s := range src.Secrets {
		k, err := DecodeSecret(s)
		if err != nil {
			return nil, webhook.Reject("secrets[%d] of source %q is not a Standard Webhooks secret (whsec_ followed by base64)", i, src.ID)
		}
		out[i] = k
	}
	return out, nil
}

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	if len(src.Secrets) == 0 {
		return domain.Errorf(domain.EINVALID, "secrets: required for standardwebhooks sources; the endpoint's signing secret (whsec_ followed by base64)")
	}
	for i, s := range src.Secrets {
		if _, err := DecodeSecret(s); err != nil {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: a Standard Webhooks secret is whsec_ followed by standard base64, as the sender shows it", i)
		}
	}
	return nil
}

// Verify implements domain.Provider.
func (Provider) Verify(src domain.Source, d domain.Delivery) error {
	ks, err := keys(src)
	if err != nil {
		return err
	}
	return VerifyKeys(ks, d.Header, d.Body, d.ReceivedAt, Tolerance)
}

// envelope is the generic payload.
type envelope struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

func decode(body []byte) (envelope, error) {
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return e, webhook.Invalid("body is not a Standard Webhooks JSON payload: %v", err)
	}
	if e.Type == "" {
		return e, webhook.Invalid(`payload lacks "type"; Tradewind's generic format is {"type": "<domain event>", "timestamp": "…", "data": {…}}`)
	}
	return e, nil
}

// Parse implements domain.Provider.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	id := d.Header.Get(IDHeader)
	if id == "" {
		return nil, webhook.Invalid("webhook-id header is missing: it is the dedupe key")
	}
	e, err := decode(d.Body)
	if err != nil {
		return nil, err
	}
	at := webhook.ParseTime(e.Timestamp)
	if at.IsZero() {
		if ts, err := strconv.ParseInt(d.Header.Get(TimestampHeader), 10, 64); err == nil {
			at = time.Unix(ts, 0).UTC()
		}
	}
	return []domain.Message{{ID: id, Type: e.Type, OccurredAt: at, Payload: d.Body}}, nil
}

// Handles implements domain.Provider: the domain event names of the generic format.
func (Provider) Handles(eventType string) bool { return generic.Handles(eventType) }

// Normalize implements domain.Provider: the body in Tradewind's generic format, with the
// webhook-id and type Parse found and, when the body gives no time, webhook-timestamp.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	return generic.Normalize(Kind, src, m)
}
