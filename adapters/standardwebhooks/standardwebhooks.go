// Package standardwebhooks verifies Standard Webhooks (standardwebhooks.com) deliveries and
// normalizes Tradewind's own generic event format carried in them.
//
// Signature: three headers. webhook-id names the message, webhook-timestamp is unix
// seconds, webhook-signature holds space-separated "v1,<base64>" entries (several while a
// secret is rotated; entries of other versions such as v1a are skipped). Each v1 entry is
// base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)), where key is the secret
// base64-decoded after an optional "whsec_" prefix is stripped. The timestamp must be
// within 5 minutes of the receive time, either way. Every configured secret is tried
// against every entry in constant time. The scheme itself is package
// adapters/webhook/stdwebhooks, which BigCommerce shares.
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
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/tradewind/tradewind/adapters/generic"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of Standard Webhooks sources.
const Kind = "standardwebhooks"

// Provider is the Standard Webhooks adapter. The zero value is ready to use.
type Provider struct{}

var (
	_ domain.Provider   = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

// keys decodes src's secrets, failing closed.
func keys(src domain.Source) ([][]byte, error) {
	if err := webhook.RequireSecrets(src); err != nil {
		return nil, err
	}
	out := make([][]byte, len(src.Secrets))
	for i, s := range src.Secrets {
		k, err := stdwebhooks.DecodeSecret(s)
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
		if _, err := stdwebhooks.DecodeSecret(s); err != nil {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: a Standard Webhooks secret is whsec_ followed by standard base64, as the sender shows it", i)
		}
	}
	return nil
}

// Verify implements domain.Provider.
func (Provider) Verify(_ context.Context, src domain.Source, d domain.Delivery) error {
	ks, err := keys(src)
	if err != nil {
		return err
	}
	return stdwebhooks.VerifyKeys(ks, d.Header, d.Body, d.ReceivedAt, stdwebhooks.Tolerance)
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
	id := d.Header.Get(stdwebhooks.IDHeader)
	if id == "" {
		return nil, webhook.Invalid("webhook-id header is missing: it is the dedupe key")
	}
	e, err := decode(d.Body)
	if err != nil {
		return nil, err
	}
	at := webhook.ParseTime(e.Timestamp)
	if at.IsZero() {
		if ts, err := strconv.ParseInt(d.Header.Get(stdwebhooks.TimestampHeader), 10, 64); err == nil {
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
