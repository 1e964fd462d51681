// Package plugnpay receives PlugnPay Smart Screens callbacks and confirms them with
// PlugnPay's remote API before anything is applied.
//
// Scheme: none. After payment, Smart Screens (pb_transition_type=hidden) has the shopper's
// browser POST the result to the cart's pb_success_url as a form: pt_order_id (PlugnPay's
// order id), pt_order_classifier (the cart's order), pi_response_status ("success"),
// pi_response_code, and the amount. PlugnPay's own WooCommerce plugin does not verify it
// ("Callback signature verification is intentionally deferred"), and nothing in it is
// signed, so Verify accepts it and Parse marks every message Unconfirmed. Fetch then asks
// PlugnPay server to server — POST <api_base_url>/payment/pnpremote.cgi with
// publisher-name, publisher-password, mode=query_trans and orderID — and only a
// FinalStatus=success answer for the same order, amount and currency becomes a confirmed
// message that Normalize turns into PaymentSucceeded.
//
// Dedupe key: pt_order_id plus a digest of the callback's claims, so repeats of one
// callback dedupe while a forged callback cannot take the real one's place.
//
// Assumptions (PlugnPay's remote API reference is not public): the callback's amount is
// pt_transaction_amount (decimal string) and its currency pt_currency (default USD); the
// query_trans answer is URL-encoded with FinalStatus, orderID, card-amount, currency and
// acct_code (the cart's order, as the cart sent it) and MErrMsg on failure. FinalStatus
// problem is treated as temporary (retried); badcard, fraud and anything else as a refusal.
// The order ref is the confirmed acct_code, which must equal pt_order_classifier.
package plugnpay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of PlugnPay sources.
const Kind = "plugnpay"

// EventCallback is the type of every browser-relayed Smart Screens callback.
const EventCallback = "smartscreens.callback"

// Settings keys read from the source.
const (
	SettingAPIBaseURL        = "api_base_url"
	SettingPublisherName     = "publisher_name"
	SettingPublisherPassword = "publisher_password" // or secrets[0]
)

// RemotePath is PlugnPay's remote API under api_base_url.
const RemotePath = "/payment/pnpremote.cgi"

// defaultCurrency is assumed when neither the callback nor PlugnPay names one.
const defaultCurrency = "USD"

// Provider is the PlugnPay adapter. The zero value is ready to use.
type Provider struct {
	// Client calls PlugnPay; nil means a client with a 30 s timeout.
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

func password(src domain.Source) string {
	return webhook.SettingOrSecret(src, SettingPublisherPassword)
}

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	if err := webhook.CheckBaseURL(src, SettingAPIBaseURL, Kind, "PlugnPay's gateway root, e.g. https://pay1.plugnpay.com"); err != nil {
		return err
	}
	if src.Settings[SettingPublisherName] == "" {
		return domain.Errorf(domain.EINVALID, "publisher_name: required for plugnpay sources; the merchant's PlugnPay username (gateway account)")
	}
	if password(src) == "" {
		return domain.Errorf(domain.EINVALID, "publisher_password: required for plugnpay sources (or put it in secrets); the remote client password set in PlugnPay's Security Administration")
	}
	return nil
}

// Verify implements domain.Provider. PlugnPay callbacks carry no signature: every delivery
// is accepted here and confirmed by Fetch before it is applied.
func (Provider) Verify(context.Context, domain.Source, domain.Delivery) error { return nil }

// Callback is what the browser relays.
type Callback struct {
	OrderID         string `json:"pt_order_id"`
	OrderClassifier string `json:"pt_order_classifier"`
	ResponseStatus  string `json:"pi_response_status"`
	ResponseCode    string `json:"pi_response_code"`
	Amount          string `json:"pt_transaction_amount"`
	Currency        string `json:"pt_currency"`
}

// ParseCallback decodes a callback form body.
func ParseCallback(body []byte) (Callback, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Callback{}, webhook.Invalid("PlugnPay callback is not a form body: %v", err)
	}
	c := Callback{
		OrderID: form.Get("pt_order_id"), OrderClassifier: form.Get("pt_order_classifier"),
		ResponseStatus: form.Get("pi_response_status"), ResponseCode: form.Get("pi_response_code"),
		Amount: form.Get("pt_transaction_amount"), Currency: form.Get("pt_currency"),
	}
	if c.OrderID == "" {
		return c, webhook.Invalid("PlugnPay callback lacks pt_order_id")
	}
	return c, nil
}

func messageID(c Callback) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{c.OrderClassifier, c.ResponseStatus, c.ResponseCode, c.Amount, c.Currency}, "\x00")))
	return c.OrderID + ":" + hex.EncodeToString(sum[:8])
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

// Transaction is PlugnPay's confirmed view of a transaction, as stored in a confirmed message.
type Transaction struct {
	OrderID     string `json:"order_id"`
	FinalStatus string `json:"final_status"`
	Amount      string `json:"amount"`   // decimal, major units
	Currency    string `json:"currency"` // upper case
	AcctCode    string `json:"acct_code"`
}

type confirmed struct {
	Callback    string      `json:"callback"` // the form body as relayed
	Confirmed   Transaction `json:"confirmed"`
	ConfirmedAt time.Time   `json:"confirmed_at"`
}

func refused(format string, args ...any) error {
	return domain.Errorf(domain.EUNAUTHORIZED, format, args...)
}

// Fetch implements domain.Fetcher: it queries the transaction with PlugnPay and returns
// the message confirmed, or EUNAUTHORIZED when PlugnPay does not report it successful for
// the callback's order, amount and currency (never applied), or EUNAVAILABLE when PlugnPay
// cannot be reached or reports a temporary problem (retried).
func (p Provider) Fetch(ctx context.Context, src domain.Source, m domain.Message) (domain.Message, error) {
	if !m.Unconfirmed {
		var c confirmed
		if json.Unmarshal(m.Payload, &c) == nil && c.Confirmed.OrderID != "" {
			return m, nil
		}
	}
	cb, err := ParseCallback(m.Payload)
	if err != nil {
		return m, err
	}
	if err := p.CheckSource(src); err != nil {
		return m, webhook.Unavailable(err, "source %q cannot confirm PlugnPay callbacks: %s", src.ID, domain.ErrorMessage(err))
	}
	form := url.Values{
		"publisher-name": {src.Settings[SettingPublisherName]}, "publisher-password": {password(src)},
		"mode": {"query_trans"}, "orderID": {cb.OrderID},
	}
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	status, raw, err := webhook.PostToGateway(ctx, p.Client, "PlugnPay", src.Settings[SettingAPIBaseURL], RemotePath, header, []byte(form.Encode()))
	if err != nil {
		return m, err
	}
	if status != http.StatusOK {
		return m, webhook.Unavailable(nil, "PlugnPay answered %d to query_trans; check api_base_url and the publisher credentials", status)
	}
	ans, err := url.ParseQuery(strings.TrimSpace(string(raw)))
	if err != nil {
		return m, webhook.Unavailable(err, "PlugnPay's answer is not URL-encoded; will retry")
	}
	tx := Transaction{
		OrderID: ans.Get("orderID"), FinalStatus: strings.ToLower(ans.Get("FinalStatus")),
		Amount: ans.Get("card-amount"), Currency: strings.ToUpper(ans.Get("currency")), AcctCode: ans.Get("acct_code"),
	}
	switch tx.FinalStatus {
	case "success":
	case "problem":
		return m, webhook.Unavailable(nil, "PlugnPay reported a problem querying order %s (%s); will retry", cb.OrderID, ans.Get("MErrMsg"))
	default:
		return m, refused("PlugnPay reports order %s as %q (%s); not applied", cb.OrderID, tx.FinalStatus, ans.Get("MErrMsg"))
	}
	if tx.Currency == "" {
		tx.Currency = defaultCurrency
	}
	claimedCur := strings.ToUpper(cb.Currency)
	if claimedCur == "" {
		claimedCur = defaultCurrency
	}
	if tx.OrderID != cb.OrderID {
		return m, refused("PlugnPay confirmed order %q, the callback claimed %q; not applied", tx.OrderID, cb.OrderID)
	}
	if tx.AcctCode != cb.OrderClassifier {
		return m, refused("PlugnPay's order %s belongs to cart order %q, the callback claimed %q; not applied", cb.OrderID, tx.AcctCode, cb.OrderClassifier)
	}
	if tx.Currency != claimedCur {
		return m, refused("PlugnPay confirmed %s, the callback claimed %s; not applied", tx.Currency, claimedCur)
	}
	got, err := domain.ParseMinorUnits(tx.Amount, tx.Currency)
	if err != nil {
		return m, refused("PlugnPay's amount for order %s is unusable (%s); not applied", cb.OrderID, domain.ErrorMessage(err))
	}
	if cb.Amount != "" {
		want, err := domain.ParseMinorUnits(cb.Amount, claimedCur)
		if err != nil || want != got {
			return m, refused("PlugnPay confirmed %s %s for order %s, the callback claimed %q; not applied", tx.Amount, tx.Currency, cb.OrderID, cb.Amount)
		}
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	payload, err := json.Marshal(confirmed{Callback: string(m.Payload), Confirmed: tx, ConfirmedAt: now().UTC()})
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
	dec := json.NewDecoder(bytes.NewReader(m.Payload))
	if m.Unconfirmed || dec.Decode(&c) != nil || c.Confirmed.OrderID == "" || c.Confirmed.FinalStatus != "success" {
		return nil, webhook.Invalid("PlugnPay message %s is not confirmed: callbacks are relayed unsigned by the browser and must pass Fetch first", m.ID)
	}
	cur, err := domain.NormalizeCurrency(c.Confirmed.Currency)
	if err != nil {
		return nil, err
	}
	amount, err := domain.ParseMinorUnits(c.Confirmed.Amount, cur)
	if err != nil {
		return nil, err
	}
	return []domain.Event{{
		Type: domain.PaymentSucceeded, Provider: Kind, Source: src.ID, EventID: m.ID, OccurredAt: c.ConfirmedAt.UTC(),
		OrderRef: c.Confirmed.AcctCode, PaymentRef: c.Confirmed.OrderID,
		Payment: &domain.PaymentChange{Amount: amount, Currency: cur},
	}}, nil
}
