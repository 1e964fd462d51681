package domain

import (
	"context"
	"net/http"
	"time"
)

// Source is one configured sender of webhooks: the {source} in /webhooks/{source}.
type Source struct {
	ID       string
	Provider string
	// Secrets are tried in order, newest first, so a secret can be rotated without downtime.
	Secrets []string
	// Settings are the provider-specific keys of the source's entry in the sources
	// file (notification_url, webhook_id, api_base_url, order_ref_key, …), as strings.
	Settings map[string]string
}

// Setting returns the named setting, or def when it is unset or empty.
func (s Source) Setting(key, def string) string {
	if v := s.Settings[key]; v != "" {
		return v
	}
	return def
}

// OrderRefKey is the payment metadata key that names the storefront order
// ("order_ref" unless the source sets order_ref_key).
func (s Source) OrderRefKey() string { return s.Setting("order_ref_key", "order_ref") }

// Delivery is one webhook request exactly as it arrived.
type Delivery struct {
	Header http.Header // canonicalized header names
	Body   []byte      // the raw bytes, as signed
	// URL is the full URL the provider called, as Tradewind saw it. Schemes that sign
	// the URL (Square) use the configured notification_url instead: proxies rewrite URLs.
	URL        string
	RemoteAddr string
	ReceivedAt time.Time // the clock that signature tolerances are checked against
}

// Message is one provider event inside a delivery; most deliveries hold exactly one,
// an Adyen batch holds several. Each message becomes one inbox row.
type Message struct {
	// ID is the dedupe key, unique per source: the provider's event id, or what
	// the provider documents in its place (Shopify's webhook id, Adyen's
	// pspReference:eventCode:success, WooCommerce's webhook+resource+modified time).
	ID         string
	Type       string    // the provider's own event type, e.g. "payment_intent.succeeded"
	OccurredAt time.Time // the provider's own timestamp, zero when it sends none
	// Payload is what the inbox stores and Normalize later reads: the whole body,
	// or this message's item of a batch.
	Payload []byte
	// Unconfirmed marks a message whose delivery could not be signed by the
	// provider (PowerTranz, PlugnPay browser relays): it is applied only after a
	// Fetcher has confirmed it with the provider's own API.
	Unconfirmed bool
}

// Provider verifies, parses and normalizes one provider's webhooks. Implementations
// are stateless and safe for concurrent use; ingress and workers know providers only
// through this interface.
type Provider interface {
	// Kind is the provider: value of a source ("stripe", "shopify", …).
	Kind() string

	// CheckSource validates a configured source's secrets and settings at start.
	// Returns EINVALID naming the offending key and what would be valid.
	CheckSource(src Source) error

	// Verify checks d's signature against src.Secrets on the raw bytes, in
	// constant time, with the scheme's timestamp tolerance against d.ReceivedAt.
	// It fails closed. Returns EUNAUTHORIZED with the reason when it fails. ctx is the
	// request's: it bounds what a scheme fetches to verify (PayPal's certificate), and
	// such a failure is EUNAVAILABLE (the provider retries).
	Verify(ctx context.Context, src Source, d Delivery) error

	// Parse extracts the messages of a verified delivery.
	// Returns EINVALID when the body cannot be parsed or lacks the dedupe key.
	Parse(src Source, d Delivery) ([]Message, error)

	// Handles reports whether events of the provider's type are normalized; the
	// ingress stores others as ignored and answers 2xx so the provider stops retrying.
	Handles(eventType string) bool

	// Normalize turns one stored message into domain events (none for a handled
	// type that carries nothing to apply). Returns EINVALID for a payload that
	// cannot be normalized; retrying will not help.
	Normalize(src Source, m Message) ([]Event, error)
}

// Fetcher is implemented by providers whose webhooks carry too little to apply
// (BigCommerce sends ids only) or cannot be trusted alone (PowerTranz and PlugnPay
// callbacks, relayed unsigned by the shopper's browser). The worker calls Fetch
// before Normalize; the returned message replaces m.
type Fetcher interface {
	// Fetch completes or confirms m with the provider's own API.
	// Returns EUNAUTHORIZED when the provider does not confirm the message (it is
	// then never applied), EUNAVAILABLE when the API cannot be reached (retried).
	Fetch(ctx context.Context, src Source, m Message) (Message, error)
}

// Acknowledger is implemented by providers that expect a particular answer body
// (Adyen wants "[accepted]"). Others get Tradewind's JSON answer. It is part of the
// provider contract, so it lives beside Provider: the ingress (adapters/httpapi)
// asks for it without importing the provider adapters' shared package.
type Acknowledger interface {
	Acknowledgement() (contentType string, body []byte)
}
