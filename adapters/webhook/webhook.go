// Package webhook holds what the provider adapters share: constant-time signature
// comparison over several secrets, timestamp tolerance, the "t=…,v1=…" header form,
// JSON and timestamp decoding (decode.go), the server-to-server call of gateways whose
// callbacks come unsigned (gateway.go), and the Simulator interface that
// `tradewind simulate` and the adapter contract suite drive.
package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// DefaultTolerance is how far a signed timestamp may be from the receive time.
const DefaultTolerance = 5 * time.Minute

// Reject returns the EUNAUTHORIZED error every Verify fails with.
func Reject(format string, args ...any) error {
	return domain.Errorf(domain.EUNAUTHORIZED, format, args...)
}

// Invalid returns the EINVALID error every Parse fails with.
func Invalid(format string, args ...any) error {
	return domain.Errorf(domain.EINVALID, format, args...)
}

// HashFunc returns the constructor for "sha1", "sha256" or "sha512", or nil.
func HashFunc(name string) func() hash.Hash {
	switch strings.ToLower(name) {
	case "sha1":
		return sha1.New
	case "sha256":
		return sha256.New
	case "sha512":
		return sha512.New
	}
	return nil
}

// HMAC returns the HMAC of msg under key.
func HMAC(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// HMACSHA256 returns HMAC-SHA256(key, msg).
func HMACSHA256(key, msg []byte) []byte { return HMAC(sha256.New, key, msg) }

// MatchAny reports whether any candidate signature equals any expected one. Every
// pair is compared, in constant time, so timing tells nothing about which matched.
func MatchAny(expected, candidates [][]byte) bool {
	ok := 0
	for _, e := range expected {
		for _, c := range candidates {
			ok |= subtle.ConstantTimeCompare(e, c)
		}
	}
	return ok == 1
}

// RequireSecrets fails closed when a source has no usable secret.
func RequireSecrets(src domain.Source) error {
	if len(src.Secrets) == 0 {
		return Reject("source %q has no secrets configured; add one under secrets: in the sources file", src.ID)
	}
	for _, s := range src.Secrets {
		if s == "" {
			return Reject("source %q has an empty secret; remove it or set its value", src.ID)
		}
	}
	return nil
}

// CheckTimestamp fails unless the unix timestamp ts is within tolerance of now, in either direction.
func CheckTimestamp(ts int64, now time.Time, tolerance time.Duration) error {
	signed := time.Unix(ts, 0)
	d := now.Sub(signed)
	if d < 0 {
		d = -d
	}
	if d > tolerance {
		return Reject("signed timestamp %s is %s away from now, more than the %s tolerance; check the sender's clock or resend",
			signed.UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return nil
}

// TimestampedHeader is the "t=<unix>,v1=<hex>,v1=<hex>" form used by Stripe and Fygaro.
type TimestampedHeader struct {
	Timestamp  int64
	Signatures [][]byte // the decoded v1 entries
}

// ParseTimestampedHeader parses a "t=…,v1=…" header. Entries with other schemes are skipped.
func ParseTimestampedHeader(v string) (TimestampedHeader, error) {
	var h TimestampedHeader
	seenT := false
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return h, Reject("signature header timestamp %q is not a unix time", val)
			}
			h.Timestamp, seenT = ts, true
		case "v1":
			sig, err := hex.DecodeString(val)
			if err == nil {
				h.Signatures = append(h.Signatures, sig)
			}
		}
	}
	if !seenT {
		return h, Reject("signature header has no t= timestamp")
	}
	if len(h.Signatures) == 0 {
		return h, Reject("signature header has no v1= signature")
	}
	return h, nil
}

// VerifyTimestamped checks a "t=…,v1=…" header: HMAC-SHA256(secret, t + "." + body)
// against every v1 entry and every secret, and the timestamp within tolerance.
func VerifyTimestamped(src domain.Source, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if err := RequireSecrets(src); err != nil {
		return err
	}
	if header == "" {
		return Reject("signature header is missing")
	}
	h, err := ParseTimestampedHeader(header)
	if err != nil {
		return err
	}
	if err := CheckTimestamp(h.Timestamp, now, tolerance); err != nil {
		return err
	}
	msg := TimestampedPayload(h.Timestamp, body)
	expected := make([][]byte, len(src.Secrets))
	for i, s := range src.Secrets {
		expected[i] = HMACSHA256([]byte(s), msg)
	}
	if !MatchAny(expected, h.Signatures) {
		return Reject("no v1 signature matches any configured secret; check that the source's secret is the endpoint's signing secret")
	}
	return nil
}

// TimestampedPayload is the signed message of the "t=…,v1=…" scheme: t + "." + body.
func TimestampedPayload(ts int64, body []byte) []byte {
	msg := make([]byte, 0, len(body)+24)
	msg = strconv.AppendInt(msg, ts, 10)
	msg = append(msg, '.')
	return append(msg, body...)
}

// SignTimestamped returns a "t=…,v1=…" header value for body, as a provider would send it.
func SignTimestamped(secret string, ts int64, body []byte) string {
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(HMACSHA256([]byte(secret), TimestampedPayload(ts, body)))
}

// Request is a webhook request a Simulator built: what a provider would send.
type Request struct {
	Header http.Header
	Body   []byte
}

// SampleOptions shape a simulated event. Zero values get realistic defaults from the adapter.
type SampleOptions struct {
	EventID  string    // the provider event id; random when empty
	OrderRef string    // the storefront order the event touches
	SKU      string    // the SKU for order lines and stock events
	Quantity int64     // units per line
	Amount   int64     // minor units
	Currency string    // ISO 4217, upper case
	Now      time.Time // signing time
}

// FillDefaults gives the zero fields the defaults most adapters share: Now the current
// time, SKU "SKU-1", Quantity 1, Amount 2500 minor units, Currency "USD". An adapter with
// other defaults sets them first; EventID and OrderRef have provider forms and are the
// adapter's to fill.
func (o *SampleOptions) FillDefaults() {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.SKU == "" {
		o.SKU = "SKU-1"
	}
	if o.Quantity == 0 {
		o.Quantity = 1
	}
	if o.Amount == 0 {
		o.Amount = 2500
	}
	if o.Currency == "" {
		o.Currency = "USD"
	}
}

// Simulator builds correctly signed sample deliveries. Every adapter implements it,
// so `tradewind simulate` and the contract suite cover every provider.
type Simulator interface {
	// SampleTypes lists the provider event types Sample can build, the most useful first.
	SampleTypes() []string
	// Flow lists the related event types of one order's life, in their natural order,
	// for `simulate --shuffle`.
	Flow() []string
	// Sample builds a signed delivery of eventType for src.
	Sample(src domain.Source, eventType string, o SampleOptions) (Request, error)
}

// Batcher is implemented by the simulators of providers that batch notifications
// (Adyen): `tradewind simulate --batch` sends a flow as one delivery.
type Batcher interface {
	// Batch joins deliveries Sample built into one, in order, as the provider would.
	Batch(reqs []Request) (Request, error)
}

// FakeAPI is an in-memory fake of the provider API that Tradewind's worker calls to
// confirm or complete a provider's webhooks (PowerTranz's and PlugnPay's confirmation
// APIs, BigCommerce's store API). `tradewind simulate` serves it on loopback.
type FakeAPI interface {
	http.Handler
	// Prepare makes the fake answer for a delivery Sample built from o: approve the
	// callback, put the order or variant into the store.
	Prepare(body []byte, o SampleOptions) error
	// Served counts the calls that confirmed or completed a delivery (one per Fetch).
	Served() int
	// RequireSource makes the fake refuse other credentials than src's.
	RequireSource(src domain.Source)
}

// FakeAPISimulator is implemented by the simulators of providers whose webhooks the
// worker confirms or completes through the provider's API (domain.Fetcher): with it,
// `tradewind simulate` serves the fake and the provider needs nothing in cmd.
type FakeAPISimulator interface {
	// NewFakeAPI returns an empty fake of the provider's API that accepts any credentials.
	NewFakeAPI() FakeAPI
}
