// Package powertranz receives First Atlantic Commerce / PowerTranz SPI callbacks and
// confirms them with PowerTranz before anything is applied.
//
// Scheme: none. PowerTranz's hosted payment page (SPI/HPP) answers through the shopper's
// browser, which POSTs the SPI response to the merchant's MerchantResponseUrl, either as
// JSON or as a form field Response=<JSON>. Nothing in it is signed, so Verify accepts it
// and Parse marks every message Unconfirmed. The worker then calls Fetch, which completes
// the payment server to server — POST <api_base_url>/api/spi/payment with the SpiToken as
// a JSON string, with PowerTranz-PowerTranzId and PowerTranz-PowerTranzPassword headers —
// and only an approved answer for the same transaction, order, amount and currency becomes
// a confirmed message that Normalize turns into events.
//
// Dedupe key: TransactionIdentifier (the merchant's GUID for the transaction) plus a digest
// of the callback's claims (SpiToken, response code, order, amount, currency), so repeats
// of one callback dedupe while a forged callback cannot take the real one's place.
//
// Quirks: amounts are decimal numbers in major units (TotalAmount: 1.00) and currencies
// ISO 4217 numeric strings ("840"). The SpiToken lives about five minutes, so a callback
// must be confirmed promptly; a retry after that is refused by PowerTranz and the message is
// never applied. TransactionType 1 (Auth) becomes PaymentAuthorized, any other (Sale)
// PaymentSucceeded. The order ref is OrderIdentifier.
package powertranz

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of PowerTranz sources.
const Kind = "powertranz"

// EventCallback is the type of every browser-relayed SPI callback.
const EventCallback = "spi.callback"

// Settings keys read from the source.
const (
	SettingAPIBaseURL = "api_base_url"
	SettingID         = "powertranz_id"
	SettingPassword   = "powertranz_password" // or secrets[0]
)

// Headers PowerTranz authenticates merchants with.
const (
	HeaderID       = "PowerTranz-PowerTranzId"
	HeaderPassword = "PowerTranz-PowerTranzPassword"
)

// PaymentPath is the SPI payment-completion endpoint under api_base_url.
const PaymentPath = "/api/spi/payment"

// Provider is the PowerTranz adapter. The zero value is ready to use.
type Provider struct {
	// Client calls PowerTranz; nil means a client with a 30 s timeout.
	Client *http.Client
	// Now stamps confirmations; nil means time.Now.
	Now func() time.Time
}

var (
	_ domain.Provider   = Provider{}
	_ domain.Fetcher    = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

func password(src domain.Source) string { return webhook.SettingOrSecret(src, SettingPassword) }

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	if err := webhook.CheckBaseURL(src, SettingAPIBaseURL, Kind, "PowerTranz's API root, e.g. https://staging.ptranz.com for tests or the production root PowerTranz gave you"); err != nil {
		return err
	}
	if src.Settings[SettingID] == "" {
		return domain.Errorf(domain.EINVALID, "powertranz_id: required for powertranz sources; the merchant's PowerTranz Id (e.g. 88801234)")
	}
	if password(src) == "" {
		return domain.Errorf(domain.EINVALID, "powertranz_password: required for powertranz sources (or put it in secrets); the merchant's PowerTranz processing password")
	}
	return nil
}

// Verify implements domain.Provider. PowerTranz callbacks carry no signature: every
// delivery is accepted here and confirmed by Fetch before it is applied.
func (Provider) Verify(context.Context, domain.Source, domain.Delivery) error { return nil }

// Callback is the SPI response PowerTranz sends through the browser (and, completed, the
// answer of /api/spi/payment, which has the same shape).
type Callback struct {
	TransactionType       int         `json:"TransactionType"`
	Approved              bool        `json:"Approved"`
	AuthorizationCode     string      `json:"AuthorizationCode,omitempty"`
	TransactionIdentifier string      `json:"TransactionIdentifier"`
	TotalAmount           json.Number `json:"TotalAmount"`
	CurrencyCode          string      `json:"CurrencyCode"`
	RRN                   string      `json:"RRN,omitempty"`
	IsoResponseCode       string      `json:"IsoResponseCode"`
	ResponseMessage       string      `json:"ResponseMessage,omitempty"`
	OrderIdentifier       string      `json:"OrderIdentifier"`
	SpiToken              string      `json:"SpiToken,omitempty"`
}

// callbackJSON returns the JSON of a callback body: the body itself, or its Response form field.
func callbackJSON(body []byte) []byte {
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '{' {
		return b
	}
	if form, err := url.ParseQuery(string(b)); err == nil {
		if r := form.Get("Response"); r != "" {
			return []byte(r)
		}
	}
	return b
}

func decodeCallback(b []byte) (Callback, error) {
	var c Callback
	if err := webhook.DecodeJSON(b, &c); err != nil {
		return c, webhook.Invalid("not a PowerTranz SPI response (JSON, or a form with a Response field): %v", err)
	}
	return c, nil
}

// ParseCallback decodes a callback body (JSON or Response=<JSON> form).
func ParseCallback(body []byte) (Callback, error) {
	c, err := decodeCallback(callbackJSON(body))
	if err != nil {
		return c, err
	}
	if c.TransactionIdentifier == "" || c.SpiToken == "" {
		return c, webhook.Invalid("PowerTranz callback lacks TransactionIdentifier or SpiToken")
	}
	return c, nil
}

// messageID is TransactionIdentifier plus a digest of what the callback claims.
func messageID(c Callback) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{c.SpiToken, c.IsoResponseCode, c.OrderIdentifier, c.TotalAmount.String(), c.CurrencyCode}, "\x00")))
	return c.TransactionIdentifier + ":" + hex.EncodeToString(sum[:8])
}

// Parse implements domain.Provider. Every message is Unconfirmed.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	c, err := ParseCallback(d.Body)
	if err != nil {
		return nil, err
	}
	return []domain.Message{{ID: messageID(c), Type: EventCallback, Payload: d.Body, Unconfirmed: true}}, nil
}

// Handles implements domain.Provider.
func (Provider) Handles(eventType string) bool { return eventType == EventCallback }

// confirmed is the payload of a confirmed message.
type confirmed struct {
	Callback    json.RawMessage `json:"callback"`
	Confirmed   json.RawMessage `json:"confirmed"`
	ConfirmedAt time.Time       `json:"confirmed_at"`
}

// money returns a callback's amount in minor units and its alphabetic currency.
func money(c Callback) (int64, string, error) {
	cur, err := Currency(c.CurrencyCode)
	if err != nil {
		return 0, "", err
	}
	v, err := domain.ParseMinorUnits(c.TotalAmount.String(), cur)
	return v, cur, err
}

// Fetch implements domain.Fetcher: it completes the SPI payment with PowerTranz and
// returns the message confirmed, or EUNAUTHORIZED when PowerTranz does not approve this
// transaction for the callback's order, amount and currency (never applied), or
// EUNAVAILABLE when PowerTranz cannot be reached or fails (retried).
func (p Provider) Fetch(ctx context.Context, src domain.Source, m domain.Message) (domain.Message, error) {
	if !m.Unconfirmed {
		var c confirmed
		if json.Unmarshal(m.Payload, &c) == nil && len(c.Confirmed) > 0 {
			return m, nil
		}
	}
	cb, err := ParseCallback(m.Payload)
	if err != nil {
		return m, err
	}
	want, wantCur, err := money(cb)
	if err != nil {
		return m, err
	}
	if err := p.CheckSource(src); err != nil {
		return m, webhook.Unavailable(err, "source %q cannot confirm PowerTranz callbacks: %s", src.ID, domain.ErrorMessage(err))
	}
	token, _ := json.Marshal(cb.SpiToken)
	header := http.Header{
		"Content-Type": {"application/json"}, "Accept": {"application/json"},
		HeaderID: {src.Settings[SettingID]}, HeaderPassword: {password(src)},
	}
	status, raw, err := webhook.PostToGateway(ctx, p.Client, "PowerTranz", src.Settings[SettingAPIBaseURL], PaymentPath, header, token)
	switch {
	case err != nil:
		return m, err
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return m, webhook.Unavailable(nil, "PowerTranz refused the merchant credentials (%d); check powertranz_id and powertranz_password", status)
	case status != http.StatusOK:
		return m, domain.Errorf(domain.EUNAUTHORIZED, "PowerTranz answered %d to the payment completion of transaction %s; not confirmed", status, cb.TransactionIdentifier)
	}
	got, err := decodeCallback(raw)
	if err != nil {
		return m, webhook.Unavailable(err, "PowerTranz's answer is not an SPI response; will retry")
	}
	if !got.Approved {
		return m, domain.Errorf(domain.EUNAUTHORIZED, "PowerTranz did not approve transaction %s (%s %s); not applied", cb.TransactionIdentifier, got.IsoResponseCode, got.ResponseMessage)
	}
	amount, cur, err := money(got)
	if err != nil {
		return m, domain.Errorf(domain.EUNAUTHORIZED, "PowerTranz's approval of %s has an unusable amount (%s); not applied", cb.TransactionIdentifier, domain.ErrorMessage(err))
	}
	for _, diff := range []struct {
		what      string
		got, want string
	}{
		{"TransactionIdentifier", got.TransactionIdentifier, cb.TransactionIdentifier},
		{"OrderIdentifier", got.OrderIdentifier, cb.OrderIdentifier},
		{"currency", cur, wantCur},
	} {
		if diff.got != diff.want {
			return m, domain.Errorf(domain.EUNAUTHORIZED, "PowerTranz approved %s %q, the callback claimed %q; not applied", diff.what, diff.got, diff.want)
		}
	}
	if amount != want {
		return m, domain.Errorf(domain.EUNAUTHORIZED, "PowerTranz approved %d minor units of %s, the callback claimed %d; not applied", amount, cur, want)
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	payload, err := json.Marshal(confirmed{Callback: callbackJSON(m.Payload), Confirmed: raw, ConfirmedAt: now().UTC()})
	if err != nil {
		return m, err
	}
	m.Payload, m.Unconfirmed = payload, false
	return m, nil
}

// Normalize implements domain.Provider. Returns EINVALID for a message Fetch has not confirmed.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	if m.Type != EventCallback {
		return nil, nil
	}
	var c confirmed
	if m.Unconfirmed || json.Unmarshal(m.Payload, &c) != nil || len(c.Confirmed) == 0 {
		return nil, webhook.Invalid("PowerTranz message %s is not confirmed: callbacks are relayed unsigned by the browser and must pass Fetch first", m.ID)
	}
	got, err := decodeCallback(c.Confirmed)
	if err != nil {
		return nil, err
	}
	if !got.Approved {
		return nil, webhook.Invalid("PowerTranz message %s is not confirmed: the gateway did not approve it", m.ID)
	}
	amount, cur, err := money(got)
	if err != nil {
		return nil, err
	}
	t := domain.PaymentSucceeded
	if got.TransactionType == 1 { // Auth: funds held for a later capture
		t = domain.PaymentAuthorized
	}
	return []domain.Event{{
		Type: t, Provider: Kind, Source: src.ID, EventID: m.ID, OccurredAt: c.ConfirmedAt.UTC(),
		OrderRef: got.OrderIdentifier, PaymentRef: got.TransactionIdentifier,
		Payment: &domain.PaymentChange{Amount: amount, Currency: cur},
	}}, nil
}

// numeric maps ISO 4217 numeric codes to alphabetic ones: the Caribbean and the Americas
// PowerTranz serves, and the majors.
var numeric = map[string]string{
	"840": "USD", "388": "JMD", "780": "TTD", "052": "BBD", "951": "XCD", "044": "BSD", "136": "KYD",
	"084": "BZD", "328": "GYD", "214": "DOP", "332": "HTG", "060": "BMD", "533": "AWG", "532": "ANG",
	"968": "SRD", "320": "GTQ", "340": "HNL", "558": "NIO", "188": "CRC", "590": "PAB", "484": "MXN",
	"170": "COP", "604": "PEN", "986": "BRL", "032": "ARS", "152": "CLP", "858": "UYU", "600": "PYG",
	"978": "EUR", "826": "GBP", "124": "CAD", "392": "JPY", "756": "CHF", "036": "AUD", "156": "CNY",
}

// Currency turns PowerTranz's CurrencyCode (ISO 4217 numeric, or alphabetic) into an
// upper-case alphabetic code. Returns EINVALID for a code it does not know.
func Currency(code string) (string, error) {
	code = strings.TrimSpace(code)
	if a, ok := numeric[code]; ok {
		return a, nil
	}
	if len(code) == 3 && code[0] >= '0' && code[0] <= '9' {
		return "", domain.Errorf(domain.EINVALID, "currency code %q is not an ISO 4217 numeric code Tradewind knows", code)
	}
	return domain.NormalizeCurrency(code)
}

// NumericCurrency is the ISO 4217 numeric code of an alphabetic one, or "".
func NumericCurrency(alpha string) string {
	alpha = strings.ToUpper(alpha)
	for n, a := range numeric {
		if a == alpha {
			return n
		}
	}
	return ""
}

var errNoNumeric = errors.New("no ISO 4217 numeric code known")
