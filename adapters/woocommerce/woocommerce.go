// Package woocommerce verifies and normalizes WooCommerce webhooks (REST API v3 payloads).
//
// Signature: X-WC-Webhook-Signature = base64(HMAC-SHA256(key, raw body)), key being the
// webhook's secret as WooCommerce decodes it (wp_specialchars_decode(secret, ENT_QUOTES)):
// a configured secret is tried as written and, when it holds HTML entities (&amp;, &#039;,
// …), decoded the same way, so either form copied from the admin works. No timestamp is
// signed, so there is no tolerance. Every configured secret is tried, in constant time.
//
// The creation ping: when a webhook is saved, WooCommerce POSTs the form-encoded body
// "webhook_id=<N>" with no signature and expects 200. Verify accepts an unsigned request
// only when its body is exactly that shape ("webhook_id=" and 1–19 digits, nothing else);
// Parse makes it one message of type "ping" (id "ping:<N>") that Handles reports false, so
// the ingress stores it as ignored and answers 200. Any other unsigned body is rejected.
//
// Dedupe: WooCommerce sends no event id (X-WC-Webhook-Delivery-ID changes per delivery),
// so the key is "<X-WC-Webhook-ID>:<resource id>:<date_modified_gmt>". Payloads without
// date_modified_gmt (a *.deleted topic's {"id": N}, custom action topics) are keyed
// "<webhook id>:<resource id>:delivery:<X-WC-Webhook-Delivery-ID>": a resource can be
// deleted, restored and deleted again, and WooCommerce does not retry deliveries.
//
// What is signed: the body only. X-WC-Webhook-Topic, -ID, -Delivery-ID, -Resource, -Event
// and -Source are not covered by the signature, so whoever holds one genuine body can
// resend it under any of them. Hence (docs/providers.md): the topic only selects how the
// body is read and a body that contradicts it yields nothing (customer.* a body that is
// not an order or product; the order topics and product.updated need the fields they
// read); events' ids derive from the body ("<resource>:<id>:<digest of the body>"), so a
// body replayed under new header ids yields events already applied. The inbox keeps
// keying on the headers below: a replay adds a row, never an effect.
//
// order.deleted is stored as ignored: its body is exactly {"id": N}, the same as
// customer.deleted's and product.deleted's, so only the unsigned topic would say an
// order was deleted — and a genuine customer.deleted body resent as order.deleted would
// cancel order N. A trashed order shows as status "trash" on its next order.updated, and
// the nightly reconciliation finds one WooCommerce no longer lists.
//
// Topics: order.created → OrderPlaced; order.updated and order.restored → OrderUpdated,
// OrderCancelled or OrderFulfilled by status; product.updated
// → InventoryLevelSet when manage_stock is true and stock_quantity is set (SKU = sku, else
// "woo-product:<id>"); customer.created and customer.updated → CustomerUpserted.
// order.deleted (see above), customer.deleted and every other topic are stored as ignored
// (Tradewind has no customer deletion event).
//
// Order statuses map to snapshot statuses:
//
//	pending, processing, on-hold (and any custom status)  placed
//	completed                                             fulfilled
//	cancelled, refunded, failed, trash                    cancelled
//
// (a failed order that is paid later arrives as a newer processing snapshot and is placed
// again.) Refunds: an order body lists its refunds ({id, reason, total "-5.00"}); those
// that count by the source's refunds setting (manual, the default: refunds marked
// refunded_payment false and every refund of an order paid offline — bacs, cheque, cod —
// which no gateway will report; all; none) become PaymentRefunded keyed by the refund id
// ("order:<id>:refund:<refund id>", PaymentRef "woo:<order id>"). Gateway payments and
// refunds arrive from the gateway. (An offline order's payment is not a Tradewind payment:
// its manual refunds count as refunds without a capture, see docs/providers/woocommerce.md.)
//
// Quirks: money is decimal strings ("29.35") parsed exactly in the order's currency. A
// line's unit price is subtotal (before discounts) ÷ quantity when that is exact, else its
// price field (a JSON number, read as text, never through float64); a line without a SKU is
// "woo-product:<variation_id, else product_id>". Version and OccurredAt are
// date_modified_gmt (UTC, whole seconds; Version in unix milliseconds). stock_quantity may be negative when
// backorders are allowed; it is passed on as WooCommerce states it. Webhooks must use the
// "WP REST API Integration v3" API version; legacy-API payloads ({"order": {…}}) are EINVALID.
package woocommerce

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of WooCommerce sources.
const Kind = "woocommerce"

// The headers WooCommerce sends, canonicalized.
const (
	SignatureHeader  = "X-Wc-Webhook-Signature"
	TopicHeader      = "X-Wc-Webhook-Topic"
	IDHeader         = "X-Wc-Webhook-Id"
	DeliveryIDHeader = "X-Wc-Webhook-Delivery-Id"
	ResourceHeader   = "X-Wc-Webhook-Resource"
	EventHeader      = "X-Wc-Webhook-Event"
	SourceHeader     = "X-Wc-Webhook-Source"
)

// TypePing is the type of the unsigned creation ping. It is never handled.
const TypePing = "ping"

// The topics Tradewind handles.
const (
	TopicOrderCreated    = "order.created"
	TopicOrderUpdated    = "order.updated"
	TopicOrderDeleted    = "order.deleted"
	TopicOrderRestored   = "order.restored"
	TopicProductUpdated  = "product.updated"
	TopicCustomerCreated = "customer.created"
	TopicCustomerUpdated = "customer.updated"
)

// Provider is the WooCommerce adapter. The zero value is ready to use.
type Provider struct{}

var (
	_ domain.Provider   = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

var handled = map[string]bool{
	TopicOrderCreated: true, TopicOrderUpdated: true, TopicOrderRestored: true,
	TopicProductUpdated: true, TopicCustomerCreated: true, TopicCustomerUpdated: true,
}

// Handles implements domain.Provider.
func (Provider) Handles(eventType string) bool { return handled[eventType] }

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	if len(src.Secrets) == 0 {
		return domain.Errorf(domain.EINVALID, "secrets: required for woocommerce sources; the Secret of the webhook (WooCommerce → Settings → Advanced → Webhooks)")
	}
	for i, s := range src.Secrets {
		if s == "" {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: empty; WooCommerce signs with the webhook's Secret, set it there and here", i)
		}
	}
	switch src.Settings["refunds"] {
	case "", RefundsManual, RefundsAll, RefundsNone:
	default:
		return domain.Errorf(domain.EINVALID, "refunds: %q is not one of manual (the default: refunds no gateway reports), all (every refund in an order's refunds; for a store whose gateway does not send its refunds to Tradewind) or none", src.Settings["refunds"])
	}
	return nil
}

// Values of the refunds setting: which refunds listed in an order count as money.
const (
	// RefundsManual counts refunds no gateway will report: those marked
	// refunded_payment false, and every refund of an order paid offline (bacs, cheque,
	// cod, or no payment method), whose money no gateway handled.
	RefundsManual = "manual"
	// RefundsAll counts every refund an order lists.
	RefundsAll = "all"
	// RefundsNone counts none: the gateways report them all.
	RefundsNone = "none"
)

// offlinePayment are WooCommerce's payment methods without a gateway.
var offlinePayment = map[string]bool{"": true, "bacs": true, "cheque": true, "cod": true}

var pingBody = regexp.MustCompile(`\Awebhook_id=[0-9]{1,19}\z`)

// IsPing reports whether body is exactly WooCommerce's unsigned creation ping.
func IsPing(body []byte) bool { return pingBody.Match(body) }

// wpDecode is wp_specialchars_decode($s, ENT_QUOTES), which WooCommerce applies to the
// secret before signing.
var wpDecode = strings.NewReplacer(
	"&amp;", "&", "&#038;", "&", "&#38;", "&", "&#x26;", "&", "&#X26;", "&",
	"&lt;", "<", "&#060;", "<", "&#60;", "<",
	"&gt;", ">", "&#062;", ">", "&#62;", ">",
	"&quot;", `"`, "&#034;", `"`, "&#34;", `"`, "&#x22;", `"`, "&#X22;", `"`,
	"&#039;", "'", "&#39;", "'", "&#x27;", "'", "&#X27;", "'",
)

// Sign returns the X-WC-Webhook-Signature of body under secret, as WooCommerce computes it.
func Sign(secret string, body []byte) string {
	return base64.StdEncoding.EncodeToString(webhook.HMACSHA256([]byte(wpDecode.Replace(secret)), body))
}

// Verify implements domain.Provider.
func (Provider) Verify(_ context.Context, src domain.Source, d domain.Delivery) error {
	h := d.Header.Get(SignatureHeader)
	if h == "" {
		if IsPing(d.Body) {
			return nil // the creation ping: unsigned by design, carries nothing, stored as ignored
		}
		return webhook.Reject("X-WC-Webhook-Signature header is missing; only the creation ping (webhook_id=N) may be unsigned")
	}
	if err := webhook.RequireSecrets(src); err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h))
	if err != nil {
		return webhook.Reject("X-WC-Webhook-Signature is not base64")
	}
	var expected [][]byte
	for _, s := range src.Secrets {
		expected = append(expected, webhook.HMACSHA256([]byte(s), d.Body))
		if dec := wpDecode.Replace(s); dec != s {
			expected = append(expected, webhook.HMACSHA256([]byte(dec), d.Body))
		}
	}
	if !webhook.MatchAny(expected, [][]byte{sig}) {
		return webhook.Reject("X-WC-Webhook-Signature matches no configured secret; use the webhook's Secret from WooCommerce → Settings → Advanced → Webhooks")
	}
	return nil
}

// resource is what Parse reads of any payload.
type resource struct {
	ID              int64  `json:"id"`
	DateModifiedGMT string `json:"date_modified_gmt"`
}

// wcTime parses WooCommerce's "2017-03-22T19:28:08" GMT times.
func wcTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse("2006-01-02T15:04:05", s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// Parse implements domain.Provider.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	if IsPing(d.Body) {
		id := strings.TrimPrefix(string(d.Body), "webhook_id=")
		return []domain.Message{{ID: "ping:" + id, Type: TypePing, OccurredAt: d.ReceivedAt.UTC(), Payload: d.Body}}, nil
	}
	topic, wid := d.Header.Get(TopicHeader), d.Header.Get(IDHeader)
	if topic == "" {
		return nil, webhook.Invalid("X-WC-Webhook-Topic header is missing")
	}
	if wid == "" {
		return nil, webhook.Invalid("X-WC-Webhook-ID header is missing: it is part of the dedupe key")
	}
	var r resource
	if err := json.Unmarshal(d.Body, &r); err != nil {
		return nil, webhook.Invalid("body is not a WooCommerce JSON payload: %v", err)
	}
	if r.ID == 0 {
		var legacy map[string]json.RawMessage
		_ = json.Unmarshal(d.Body, &legacy)
		for _, k := range []string{"order", "product", "customer", "coupon"} {
			if _, ok := legacy[k]; ok {
				return nil, webhook.Invalid("%s: a legacy-API payload ({%q: …}); set the webhook's API version to WP REST API Integration v3", topic, k)
			}
		}
	}
	at := wcTime(r.DateModifiedGMT)
	var key string
	switch delivery := d.Header.Get(DeliveryIDHeader); {
	case r.ID != 0 && !at.IsZero():
		key = fmt.Sprintf("%s:%d:%s", wid, r.ID, r.DateModifiedGMT)
	case delivery != "":
		key = fmt.Sprintf("%s:%d:delivery:%s", wid, r.ID, delivery)
	default:
		return nil, webhook.Invalid("%s: payload has no id and date_modified_gmt, and X-WC-Webhook-Delivery-ID is missing: nothing to dedupe on", topic)
	}
	if at.IsZero() {
		at = d.ReceivedAt.UTC()
	}
	return []domain.Message{{ID: key, Type: topic, OccurredAt: at, Payload: d.Body}}, nil
}

type order struct {
	ID              int64          `json:"id"`
	Status          string         `json:"status"`
	Currency        string         `json:"currency"`
	Total           domain.Decimal `json:"total"`
	DateModifiedGMT string         `json:"date_modified_gmt"`
	CustomerID      int64          `json:"customer_id"`
	PaymentMethod   string         `json:"payment_method"`
	// Refunds lists the order's refunds: {id, reason, total: "-5.00"} in an order body;
	// refunded_payment (false for a refund made by hand, whose money no gateway moved)
	// where the payload carries the refund resource's field.
	Refunds []struct {
		ID              int64          `json:"id"`
		Reason          string         `json:"reason"`
		Total           domain.Decimal `json:"total"`
		RefundedPayment *bool          `json:"refunded_payment"`
	} `json:"refunds"`
	LineItems []struct {
		ProductID   int64          `json:"product_id"`
		VariationID int64          `json:"variation_id"`
		Quantity    int64          `json:"quantity"`
		Subtotal    domain.Decimal `json:"subtotal"`
		Price       domain.Decimal `json:"price"`
		SKU         string         `json:"sku"`
	} `json:"line_items"`
}

type product struct {
	ID              int64           `json:"id"`
	SKU             string          `json:"sku"`
	ManageStock     json.RawMessage `json:"manage_stock"` // true, false, or "parent" on variations
	StockQuantity   *json.Number    `json:"stock_quantity"`
	DateModifiedGMT string          `json:"date_modified_gmt"`
}

type customer struct {
	ID              int64  `json:"id"`
	Email           string `json:"email"`
	FirstName       string `json:"first_name"`
	LastName        string `json:"last_name"`
	DateModifiedGMT string `json:"date_modified_gmt"`
}

// statusOf maps a WooCommerce order status to a snapshot status.
func statusOf(s string) domain.OrderStatus {
	switch s {
	case "completed":
		return domain.StatusFulfilled
	case "cancelled", "refunded", "failed", "trash":
		return domain.StatusCancelled
	default: // pending, processing, on-hold, custom statuses
		return domain.StatusPlaced
	}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// Normalize implements domain.Provider.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	if !handled[m.Type] {
		return nil, nil
	}
	base := domain.Event{Provider: Kind, Source: src.ID, EventID: m.ID, OccurredAt: m.OccurredAt}
	switch m.Type {
	case TopicProductUpdated:
		var p product
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			return nil, webhook.Invalid("%s: %v", m.Type, err)
		}
		if string(p.ManageStock) != "true" || p.StockQuantity == nil {
			return nil, nil // stock not managed here: nothing to set
		}
		qty, err := p.StockQuantity.Int64()
		if err != nil {
			return nil, webhook.Invalid("%s: product %d stock_quantity %q is not a whole number", m.Type, p.ID, p.StockQuantity.String())
		}
		sku := p.SKU
		if sku == "" {
			sku = "woo-product:" + id(p.ID)
		}
		ev := base
		ev.EventID = eventID("product", id(p.ID), m.Payload)
		ev.Type, ev.Version = domain.InventoryLevelSet, millis(p.DateModifiedGMT)
		ev.Stock = &domain.StockLevel{SKU: sku, OnHand: qty}
		return []domain.Event{ev}, nil
	case TopicCustomerCreated, TopicCustomerUpdated:
		var c customer
		if err := json.Unmarshal(m.Payload, &c); err != nil {
			return nil, webhook.Invalid("%s: %v", m.Type, err)
		}
		if c.ID == 0 {
			return nil, webhook.Invalid("%s: customer id is missing", m.Type)
		}
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(m.Payload, &keys)
		for _, k := range []string{"line_items", "order_key", "manage_stock", "stock_quantity"} {
			if _, ok := keys[k]; ok {
				return nil, nil // an order or product replayed under a customer topic
			}
		}
		ev := base
		ev.EventID = eventID("customer", id(c.ID), m.Payload)
		ev.Type, ev.CustomerRef, ev.Version = domain.CustomerUpserted, id(c.ID), millis(c.DateModifiedGMT)
		ev.Customer = &domain.Customer{Email: c.Email, FirstName: c.FirstName, LastName: c.LastName}
		return []domain.Event{ev}, nil
	default:
		return normalizeOrder(src, base, m)
	}
}

// eventID is the id of the event a signed body yields: the resource, its id and a digest
// of the body's bytes, so that the same body yields the same event whatever unsigned
// headers it arrives with, and two different (signed) bodies never share an id.
func eventID(resource, resourceID string, body []byte) string {
	sum := sha256.Sum256(body)
	return resource + ":" + resourceID + ":" + hex.EncodeToString(sum[:8])
}

func millis(s string) int64 {
	if t := wcTime(s); !t.IsZero() {
		return t.UnixMilli()
	}
	return 0
}

func normalizeOrder(src domain.Source, ev domain.Event, m domain.Message) ([]domain.Event, error) {
	var o order
	if err := json.Unmarshal(m.Payload, &o); err != nil {
		return nil, webhook.Invalid("%s: %v", m.Type, err)
	}
	if o.ID == 0 {
		return nil, webhook.Invalid("%s: order id is missing", m.Type)
	}
	cur, err := domain.NormalizeCurrency(o.Currency)
	if err != nil {
		return nil, webhook.Invalid("%s: order %d: %s", m.Type, o.ID, domain.ErrorMessage(err))
	}
	total, err := domain.ParseMinorUnits(string(o.Total), cur)
	if err != nil {
		return nil, webhook.Invalid("%s: order %d total: %s", m.Type, o.ID, domain.ErrorMessage(err))
	}
	snap := &domain.OrderSnapshot{Status: statusOf(o.Status), Currency: cur, Total: total}
	for i, l := range o.LineItems {
		unit, ok := int64(0), false
		if sub, err := domain.ParseMinorUnits(string(l.Subtotal), cur); err == nil && l.Quantity > 0 && sub%l.Quantity == 0 {
			unit, ok = sub/l.Quantity, true
		}
		if !ok {
			if unit, err = domain.ParseMinorUnits(string(l.Price), cur); err != nil {
				return nil, webhook.Invalid("%s: order %d line_items[%d]: neither subtotal ÷ quantity nor price (%q) is an exact %s amount", m.Type, o.ID, i, string(l.Price), cur)
			}
		}
		sku := l.SKU
		switch {
		case sku != "":
		case l.VariationID != 0:
			sku = "woo-product:" + id(l.VariationID)
		default:
			sku = "woo-product:" + id(l.ProductID)
		}
		snap.Lines = append(snap.Lines, domain.Line{SKU: sku, Quantity: l.Quantity, UnitPrice: unit})
	}
	ev.EventID = eventID("order", id(o.ID), m.Payload)
	ev.OrderRef, ev.Order = id(o.ID), snap
	if at := wcTime(o.DateModifiedGMT); !at.IsZero() {
		ev.OccurredAt, ev.Version = at, at.UnixMilli()
	}
	if o.CustomerID != 0 {
		ev.CustomerRef = id(o.CustomerID)
	}
	switch {
	case m.Type == TopicOrderCreated:
		ev.Type = domain.OrderPlaced
	case snap.Status == domain.StatusCancelled:
		ev.Type = domain.OrderCancelled
	case snap.Status == domain.StatusFulfilled:
		ev.Type = domain.OrderFulfilled
	default:
		ev.Type = domain.OrderUpdated
	}
	evs := []domain.Event{ev}
	// The refunds the order lists that count (the refunds setting), each keyed by its id
	// on the order's payment "woo:<order id>": a refund made by hand in the shop admin is
	// money no gateway will ever report. Refunded items WooCommerce puts back in stock
	// arrive as product.updated stock levels.
	mode := src.Setting("refunds", RefundsManual)
	for i, r := range o.Refunds {
		count := mode == RefundsAll ||
			(mode == RefundsManual && (offlinePayment[o.PaymentMethod] || (r.RefundedPayment != nil && !*r.RefundedPayment)))
		if !count || r.ID == 0 {
			continue
		}
		amount, err := domain.ParseMinorUnits(strings.TrimPrefix(string(r.Total), "-"), cur)
		if err != nil {
			return nil, webhook.Invalid("%s: order %d refunds[%d].total: %s", m.Type, o.ID, i, domain.ErrorMessage(err))
		}
		rev := ev
		rev.Type, rev.Order, rev.Version = domain.PaymentRefunded, nil, 0
		rev.EventID = "order:" + id(o.ID) + ":refund:" + id(r.ID)
		rev.PaymentRef = "woo:" + id(o.ID)
		rev.Payment = &domain.PaymentChange{Amount: amount, Currency: cur, RefundRef: "refund:" + id(r.ID), Reason: r.Reason}
		evs = append(evs, rev)
	}
	return evs, nil
}
