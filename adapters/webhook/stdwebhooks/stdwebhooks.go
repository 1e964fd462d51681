// Package stdwebhooks is the Standard Webhooks signature scheme
// (standardwebhooks.com), shared by the providers that sign with it: the
// standardwebhooks source (Tradewind's generic format) and BigCommerce. It is a
// scheme, not a provider: it imports no provider adapter.
//
// Signature: three headers. webhook-id names the message, webhook-timestamp is unix
// seconds, webhook-signature holds space-separated "v1,<base64>" entries (several while a
// secret is rotated; entries of other versions such as v1a are skipped). Each v1 entry is
// base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)), where key is the secret
// base64-decoded after an optional "whsec_" prefix is stripped. Every key is tried
// against every entry in constant time.
package stdwebhooks

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

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
