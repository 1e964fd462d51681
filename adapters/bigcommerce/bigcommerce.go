// Package bigcommerce verifies BigCommerce webhooks, completes them through the store
// API and normalizes them.
//
// Signature: Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature with
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" entries, 5-minute tolerance), verified
// by the standardwebhooks package's exported functions. The key is the app's client
// secret used as raw bytes, or, for a secret written "whsec_<base64>", its decoded bytes.
//
// Dedupe on scope, data.type, data.id and the payload's hash together (dedupeKey):
// BigCommerce says "if a hook fires twice for the same event, both request bodies rely on
// the same hash", but not that two events never share one, and deliveries of different
// scopes were seen with one hash; the hash alone answered a refund "duplicate".
//
// Payloads are thin: data carries ids only. Handled scopes are store/order/created,
// store/order/updated, store/order/statusUpdated, store/order/transaction/created,
// store/order/refund/created, store/sku/inventory/updated and
// store/product/inventory/updated (stock tracked per product); Parse
// marks their messages Unconfirmed (incomplete until fetched) and Fetch (domain.Fetcher)
// reads the resource from the store API (settings api_base_url, store_hash, access_token
// sent as X-Auth-Token):
//
//	order scopes: GET /stores/{store_hash}/v2/orders/{id} and /v2/orders/{id}/products
//	transaction:  GET /v2/orders/{order_id} and /v3/orders/{order_id}/transactions
//	refund:       GET /v2/orders/{id} and /v3/orders/{id}/payment_actions/refunds
//	              (every transaction or refund of the order: each is keyed by its own id,
//	              so fetching them all again applies nothing twice)
//	sku, product: GET /stores/{store_hash}/v3/catalog/products/{product_id}/variants/{variant_id}
//	              (/v3/catalog/products/{product_id} when the payload names no variant)
//
// The fetched bodies are added to the payload under "fetched" ({"at", "order", "products"}
// or {"at", "variant"} / {"at", "product"}), so Normalize is pure. Normalize on a payload
// that was not fetched is EINVALID. Fetch maps HTTP 404 to ENOTFOUND (the order or variant
// no longer exists: retrying cannot help, ops can see why), 401/403, 429, 5xx and network
// errors to EUNAVAILABLE (retried: a bad access_token is a configuration error that is
// fixed without losing the message), any other status to EINVALID.
//
// Order statuses (status_id) map to snapshots as: 5 Cancelled, 6 Declined, 4 Refunded →
// cancelled; 2 Shipped, 10 Completed → fulfilled; every other (0 Incomplete, 1 Pending,
// 3 Partially Shipped, 7 Awaiting Payment, 8 Awaiting Pickup, 9 Awaiting Shipment,
// 11 Awaiting Fulfillment, 12 Manual Verification Required, 13 Disputed, 14 Partially
// Refunded) → placed. store/order/created is OrderPlaced; the update scopes are
// OrderCancelled, OrderFulfilled or OrderUpdated by that status.
//
// Quirks: v2 money is decimal strings with four places ("225.0000"), parsed exactly. The
// total is total_inc_tax in default_currency_code (which v2 uses for the transactional
// currency the shopper paid in; currency_code, the display currency, is the fallback).
// A line's unit price is price_ex_tax; a line without a SKU is "bc-variant:<variant_id>"
// ("bc-product:<product_id>" without a variant). Version is date_modified (RFC 1123, whole
// seconds) in unix milliseconds. Stock is the variant's inventory_level as read at fetch
// time: OccurredAt is the fetch time, Version 0 (variants carry no modification time).
package bigcommerce

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of BigCommerce sources.
const Kind = "bigcommerce"

// DefaultAPIBaseURL is the store API used when a source sets no api_base_url.
const DefaultAPIBaseURL = "https://api.bigcommerce.com"

// The webhook scopes Tradewind handles.
const (
	ScopeOrderCreated        = "store/order/created"
	ScopeOrderUpdated        = "store/order/updated"
	ScopeOrderStatusUpdated  = "store/order/statusUpdated"
	ScopeSKUInventoryUpdated = "store/sku/inventory/updated"
	// ScopeProductInventoryUpdated: stock tracked per product (not per variant).
	ScopeProductInventoryUpdated = "store/product/inventory/updated"
	ScopeTransactionCreated      = "store/order/transaction/created"
	ScopeRefundCreated           = "store/order/refund/created"
)

// Provider is the BigCommerce adapter. The zero value is ready to use.
type Provider struct {
	// Client makes the store API calls of Fetch; nil means a client with a 20 s timeout.
	Client *http.Client
	// Now stamps fetched payloads; nil means time.Now.
	Now func() time.Time
}

var (
	_ domain.Provider   = Provider{}
	_ domain.Fetcher    = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

var handled = map[string]bool{
	ScopeOrderCreated:        true,
	ScopeOrderUpdated:        true,
	ScopeOrderStatusUpdated:  true,
	ScopeSKUInventoryUpdated: true,

	ScopeProductInventoryUpdated: true,
	ScopeTransactionCreated:      true,
	ScopeRefundCreated:           true,
}

// Handles implements domain.Provider.
func (Provider) Handles(eventType string) bool { return handled[eventType] }

// key is the HMAC key of a configured secret: a whsec_ secret is decoded as Standard
// Webhooks prescribes, anything else is the app's client secret used as it is.
func key(secret string) ([]byte, error) {
	if strings.HasPrefix(secret, stdwebhooks.SecretPrefix) {
		return stdwebhooks.DecodeSecret(secret)
	}
	return []byte(secret), nil
}

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	if len(src.Secrets) == 0 {
		return domain.Errorf(domain.EINVALID, "secrets: required for bigcommerce sources; the app's client secret (or a whsec_ Standard Webhooks secret)")
	}
	for i, s := range src.Secrets {
		if s == "" {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: empty; remove it or set the app's client secret", i)
		}
		if _, err := key(s); err != nil {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: starts with whsec_ but the rest is not standard base64; use the client secret as BigCommerce shows it", i)
		}
	}
	if h := src.Settings["store_hash"]; h == "" {
		return domain.Errorf(domain.EINVALID, "store_hash: required for bigcommerce sources; the store hash in the API path (https://api.bigcommerce.com/stores/{store_hash}/…)")
	} else if !isStoreHash(h) {
		return domain.Errorf(domain.EINVALID, "store_hash: %q is not a store hash; use the lower-case letters and digits from the API path (https://api.bigcommerce.com/stores/{store_hash}/…)", h)
	}
	if src.Settings["access_token"] == "" {
		return domain.Errorf(domain.EINVALID, "access_token: required for bigcommerce sources; an API account token with read-only Orders and Products scopes, sent as X-Auth-Token")
	}
	if err := checkBaseURL(src.Setting("api_base_url", DefaultAPIBaseURL)); err != nil {
		return err
	}
	return nil
}

func isStoreHash(h string) bool {
	for _, r := range h {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return h != ""
}

// Verify implements domain.Provider.
func (Provider) Verify(_ context.Context, src domain.Source, d domain.Delivery) error {
	if err := webhook.RequireSecrets(src); err != nil {
		return err
	}
	keys := make([][]byte, len(src.Secrets))
	for i, s := range src.Secrets {
		k, err := key(s)
		if err != nil {
			return webhook.Reject("secrets[%d] of source %q starts with whsec_ but is not base64; fix the sources file", i, src.ID)
		}
		keys[i] = k
	}
	return stdwebhooks.VerifyKeys(keys, d.Header, d.Body, d.ReceivedAt, stdwebhooks.Tolerance)
}

// thin is a BigCommerce webhook payload, plus what Fetch adds.
type thin struct {
	Scope string `json:"scope"`
	Data  struct {
		Type string `json:"type"`
		// ID is numeric for orders and SKUs; other scopes (carts) use strings.
		ID json.RawMessage `json:"id"`
		// OrderID and TransactionID name a transaction (store/order/transaction/created
		// has no data.id); Refund names a refund of order data.id.
		OrderID       json.RawMessage `json:"order_id"`
		TransactionID string          `json:"transaction_id"`
		Refund        *struct {
			RefundID int64 `json:"refund_id"`
		} `json:"refund"`
		Inventory *struct {
			ProductID int64  `json:"product_id"`
			VariantID int64  `json:"variant_id"`
			Method    string `json:"method"`
			Value     int64  `json:"value"`
		} `json:"inventory"`
	} `json:"data"`
	Hash      string   `json:"hash"`
	CreatedAt int64    `json:"created_at"`
	Producer  string   `json:"producer"`
	Fetched   *fetched `json:"fetched"`
}

// fetched is what Fetch read from the store API, kept as the API returned it.
type fetched struct {
	At       time.Time       `json:"at"`
	Order    json.RawMessage `json:"order,omitempty"`
	Products json.RawMessage `json:"products,omitempty"`
	Variant  json.RawMessage `json:"variant,omitempty"`
	Product  json.RawMessage `json:"product,omitempty"`
	// Transactions and Refunds are the order's, as GET /v3/orders/{id}/transactions and
	// /v3/orders/{id}/payment_actions/refunds list them ({"data": […], "meta": …}).
	Transactions json.RawMessage `json:"transactions,omitempty"`
	Refunds      json.RawMessage `json:"refunds,omitempty"`
}

func decode(body []byte) (thin, error) {
	var p thin
	if err := json.Unmarshal(body, &p); err != nil {
		return p, webhook.Invalid("body is not a BigCommerce webhook payload: %v", err)
	}
	if p.Scope == "" || p.Hash == "" {
		return p, webhook.Invalid("BigCommerce payload lacks scope or hash (the dedupe key)")
	}
	return p, nil
}

// Parse implements domain.Provider. Messages of handled scopes are Unconfirmed: they hold
// ids only and must be completed by Fetch before Normalize.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	p, err := decode(d.Body)
	if err != nil {
		return nil, err
	}
	if handled[p.Scope] {
		if _, err := p.orderID(); err != nil {
			return nil, err
		}
	}
	return []domain.Message{{ID: p.dedupeKey(), Type: p.Scope, OccurredAt: unix(p.CreatedAt), Payload: d.Body, Unconfirmed: handled[p.Scope]}}, nil
}

// dedupeKey is the message id: scope, data.type, the resource's ids (data.id, or the
// order and transaction of a transaction, and a refund's id) and hash, so that a retry of
// one event (same hash, same resource) is a duplicate and two events of different scopes
// or resources never are, whatever their hashes. (BigCommerce's own examples give
// store/order/created and store/order/transaction/created one hash, and
// store/order/message/created and store/order/refund/created another.)
func (p thin) dedupeKey() string {
	refund := ""
	if p.Data.Refund != nil {
		refund = strconv.FormatInt(p.Data.Refund.RefundID, 10)
	}
	return strings.Join([]string{p.Scope, p.Data.Type, rawID(p.Data.ID), rawID(p.Data.OrderID), p.Data.TransactionID, refund, p.Hash}, "|")
}

// rawID is a JSON id (number or string) as text.
func rawID(raw json.RawMessage) string { return strings.Trim(string(raw), `" `) }

// orderID is the order a payload names: data.order_id of a transaction, data.id otherwise.
func (p thin) orderID() (int64, error) {
	if p.Scope != ScopeTransactionCreated {
		return p.id()
	}
	n, err := strconv.ParseInt(rawID(p.Data.OrderID), 10, 64)
	if err != nil || n <= 0 {
		return 0, webhook.Invalid("%s: data.order_id %s is not a positive integer", p.Scope, string(p.Data.OrderID))
	}
	return n, nil
}

// id returns data.id of an order or SKU scope.
func (p thin) id() (int64, error) {
	var n int64
	if err := json.Unmarshal(p.Data.ID, &n); err != nil || n <= 0 {
		return 0, webhook.Invalid("%s: data.id %s is not a positive integer", p.Scope, string(p.Data.ID))
	}
	return n, nil
}

func unix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// order is the part of a v2 order Tradewind reads.
type order struct {
	ID                  int64  `json:"id"`
	CustomerID          int64  `json:"customer_id"`
	DateModified        string `json:"date_modified"`
	StatusID            int    `json:"status_id"`
	Status              string `json:"status"`
	CurrencyCode        string `json:"currency_code"`
	DefaultCurrencyCode string `json:"default_currency_code"`
	TotalIncTax         string `json:"total_inc_tax"`
}

// orderProduct is one v2 order line.
type orderProduct struct {
	ProductID  int64  `json:"product_id"`
	VariantID  int64  `json:"variant_id"`
	SKU        string `json:"sku"`
	Quantity   int64  `json:"quantity"`
	PriceExTax string `json:"price_ex_tax"`
}

// variant is a v3 catalog variant (or product: the fields read are common to both).
type variant struct {
	ID             int64  `json:"id"`
	SKU            string `json:"sku"`
	InventoryLevel *int64 `json:"inventory_level"`
	// InventoryTracking is set on products: "none", "product" or "variant".
	InventoryTracking string `json:"inventory_tracking"`
}

// statusOf maps a v2 status_id to a snapshot status.
func statusOf(id int) domain.OrderStatus {
	switch id {
	case 4, 5, 6: // Refunded, Cancelled, Declined
		return domain.StatusCancelled
	case 2, 10: // Shipped, Completed
		return domain.StatusFulfilled
	default:
		return domain.StatusPlaced
	}
}

// Normalize implements domain.Provider. It needs the payload Fetch returned.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	p, err := decode(m.Payload)
	if err != nil {
		return nil, err
	}
	if !handled[p.Scope] {
		return nil, nil
	}
	if p.Fetched == nil {
		return nil, webhook.Invalid("%s carries ids only (%s %s); the message must be completed by Fetch from the store API before it is normalized", p.Scope, p.Data.Type, string(p.Data.ID))
	}
	base := domain.Event{Provider: Kind, Source: src.ID, EventID: m.ID}
	if base.EventID == "" {
		base.EventID = p.dedupeKey()
	}
	switch p.Scope {
	case ScopeSKUInventoryUpdated, ScopeProductInventoryUpdated:
		return normalizeStock(base, p)
	case ScopeTransactionCreated:
		return normalizeTransactions(base, p)
	case ScopeRefundCreated:
		return normalizeRefunds(base, p)
	}
	return normalizeOrder(base, p)
}

func normalizeOrder(ev domain.Event, p thin) ([]domain.Event, error) {
	if len(p.Fetched.Order) == 0 {
		return nil, webhook.Invalid("%s: fetched payload lacks the order", p.Scope)
	}
	var o order
	if err := json.Unmarshal(p.Fetched.Order, &o); err != nil {
		return nil, webhook.Invalid("%s: fetched order: %v", p.Scope, err)
	}
	if want, err := p.id(); err != nil {
		return nil, err
	} else if o.ID != want {
		return nil, webhook.Invalid("%s: fetched order %d is not the webhook's order %d", p.Scope, o.ID, want)
	}
	var products []orderProduct
	if len(p.Fetched.Products) > 0 {
		if err := json.Unmarshal(p.Fetched.Products, &products); err != nil {
			return nil, webhook.Invalid("%s: fetched order products: %v", p.Scope, err)
		}
	}
	cur := o.DefaultCurrencyCode
	if cur == "" {
		cur = o.CurrencyCode
	}
	cur, err := domain.NormalizeCurrency(cur)
	if err != nil {
		return nil, webhook.Invalid("%s: order %d: %s", p.Scope, o.ID, domain.ErrorMessage(err))
	}
	total, err := domain.ParseMinorUnits(o.TotalIncTax, cur)
	if err != nil {
		return nil, webhook.Invalid("%s: order %d total_inc_tax: %s", p.Scope, o.ID, domain.ErrorMessage(err))
	}
	snap := &domain.OrderSnapshot{Status: statusOf(o.StatusID), Currency: cur, Total: total}
	for i, l := range products {
		unit, err := domain.ParseMinorUnits(l.PriceExTax, cur)
		if err != nil {
			return nil, webhook.Invalid("%s: order %d products[%d].price_ex_tax: %s", p.Scope, o.ID, i, domain.ErrorMessage(err))
		}
		sku := l.SKU
		switch {
		case sku != "":
		case l.VariantID != 0:
			sku = "bc-variant:" + strconv.FormatInt(l.VariantID, 10)
		default:
			sku = "bc-product:" + strconv.FormatInt(l.ProductID, 10)
		}
		snap.Lines = append(snap.Lines, domain.Line{SKU: sku, Quantity: l.Quantity, UnitPrice: unit})
	}
	modified, err := time.Parse(time.RFC1123Z, o.DateModified)
	if err != nil {
		return nil, webhook.Invalid("%s: order %d date_modified %q is not an RFC 1123 time", p.Scope, o.ID, o.DateModified)
	}
	ev.OccurredAt, ev.Version = modified.UTC(), modified.UnixMilli()
	ev.OrderRef = strconv.FormatInt(o.ID, 10)
	if o.CustomerID != 0 {
		ev.CustomerRef = strconv.FormatInt(o.CustomerID, 10)
	}
	ev.Order = snap
	switch {
	case p.Scope == ScopeOrderCreated:
		ev.Type = domain.OrderPlaced
	case snap.Status == domain.StatusCancelled:
		ev.Type = domain.OrderCancelled
	case snap.Status == domain.StatusFulfilled:
		ev.Type = domain.OrderFulfilled
	default:
		ev.Type = domain.OrderUpdated
	}
	return []domain.Event{ev}, nil
}

func normalizeStock(ev domain.Event, p thin) ([]domain.Event, error) {
	raw := p.Fetched.Variant
	if len(raw) == 0 {
		raw = p.Fetched.Product
	}
	if len(raw) == 0 {
		return nil, webhook.Invalid("%s: fetched payload lacks the variant", p.Scope)
	}
	var env struct {
		Data variant `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, webhook.Invalid("%s: fetched variant: %v", p.Scope, err)
	}
	v := env.Data
	if v.InventoryLevel == nil || v.InventoryTracking == "none" {
		return nil, nil // stock is not tracked: nothing to set
	}
	sku := v.SKU
	if sku == "" {
		prefix := "bc-variant:"
		if len(p.Fetched.Variant) == 0 {
			prefix = "bc-product:"
		}
		sku = prefix + strconv.FormatInt(v.ID, 10)
	}
	ev.Type = domain.InventoryLevelSet
	ev.OccurredAt = p.Fetched.At.UTC()
	ev.Stock = &domain.StockLevel{SKU: sku, OnHand: *v.InventoryLevel}
	return []domain.Event{ev}, nil
}

// transaction is a v3 order transaction.
type transaction struct {
	ID          int64       `json:"id"`
	Event       string      `json:"event"` // purchase, authorization, capture, refund, void, pending, settled
	Amount      json.Number `json:"amount"`
	Currency    string      `json:"currency"`
	Status      string      `json:"status"` // ok or error
	DateCreated string      `json:"date_created"`
}

// normalizeTransactions turns the order's transactions, as fetched, into payment facts,
// each transaction its own payment "bc-transaction:<id>" of the order (so every
// transaction counts once, however many webhooks fetched it): purchase and capture →
// PaymentSucceeded, authorization → PaymentAuthorized, void → PaymentFailed, and any of
// them with status error → PaymentFailed. Refund transactions are counted through
// store/order/refund/created (the refund they belong to); pending and settled are not
// money moving. Amounts are JSON numbers, read exactly as written.
func normalizeTransactions(base domain.Event, p thin) ([]domain.Event, error) {
	order, err := p.orderID()
	if err != nil {
		return nil, err
	}
	var list struct {
		Data []transaction `json:"data"`
	}
	dec := json.NewDecoder(strings.NewReader(string(p.Fetched.Transactions)))
	dec.UseNumber()
	if err := dec.Decode(&list); err != nil {
		return nil, webhook.Invalid("%s: fetched transactions: %v", p.Scope, err)
	}
	var evs []domain.Event
	for i, tx := range list.Data {
		var t domain.EventType
		switch {
		case tx.Event == "refund" || tx.Event == "pending" || tx.Event == "settled":
			continue
		case tx.Status != "ok" && (tx.Event == "purchase" || tx.Event == "authorization" || tx.Event == "capture"):
			t = domain.PaymentFailed
		case tx.Status != "ok":
			continue
		case tx.Event == "purchase" || tx.Event == "capture":
			t = domain.PaymentSucceeded
		case tx.Event == "authorization":
			t = domain.PaymentAuthorized
		case tx.Event == "void":
			t = domain.PaymentFailed
		default:
			continue
		}
		cur, err := domain.NormalizeCurrency(tx.Currency)
		if err != nil {
			return nil, webhook.Invalid("%s: transactions[%d]: %s", p.Scope, i, domain.ErrorMessage(err))
		}
		amount, err := domain.ParseMinorUnits(tx.Amount.String(), cur)
		if err != nil {
			return nil, webhook.Invalid("%s: transactions[%d].amount: %s", p.Scope, i, domain.ErrorMessage(err))
		}
		ev := base
		ev.EventID = base.EventID + ":transaction:" + strconv.FormatInt(tx.ID, 10)
		ev.Type, ev.OccurredAt = t, webhook.ParseTime(tx.DateCreated)
		ev.OrderRef, ev.PaymentRef = strconv.FormatInt(order, 10), "bc-transaction:"+strconv.FormatInt(tx.ID, 10)
		ev.Payment = &domain.PaymentChange{Amount: amount, Currency: cur}
		if t == domain.PaymentFailed {
			ev.Payment.Reason = strings.TrimSpace(tx.Event + " " + tx.Status)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// refund is a v3 order refund (payment_actions/refunds).
type refund struct {
	ID       int64  `json:"id"`
	Created  string `json:"created"`
	Reason   string `json:"reason"`
	Payments []struct {
		Amount     json.Number `json:"amount"`
		IsDeclined bool        `json:"is_declined"`
	} `json:"payments"`
}

// normalizeRefunds turns the order's refunds, as fetched, into PaymentRefunded events
// keyed by the refund ("refund:<id>") on the order's payment "bc-order:<id>": the amount is
// what its payments moved (a declined payment moved nothing); a refund whose every payment
// was declined is RefundFailed. Refunds carry no currency: the order's is used. Whether
// the refunded items went back to stock BigCommerce reports as stock levels
// (store/sku/inventory/updated, store/product/inventory/updated), not on the refund.
func normalizeRefunds(base domain.Event, p thin) ([]domain.Event, error) {
	order, err := p.orderID()
	if err != nil {
		return nil, err
	}
	var o struct {
		CurrencyCode        string `json:"currency_code"`
		DefaultCurrencyCode string `json:"default_currency_code"`
	}
	if err := json.Unmarshal(p.Fetched.Order, &o); err != nil {
		return nil, webhook.Invalid("%s: fetched order: %v", p.Scope, err)
	}
	cur := o.DefaultCurrencyCode
	if cur == "" {
		cur = o.CurrencyCode
	}
	if cur, err = domain.NormalizeCurrency(cur); err != nil {
		return nil, webhook.Invalid("%s: order %d: %s", p.Scope, order, domain.ErrorMessage(err))
	}
	var list struct {
		Data []refund `json:"data"`
	}
	dec := json.NewDecoder(strings.NewReader(string(p.Fetched.Refunds)))
	dec.UseNumber()
	if err := dec.Decode(&list); err != nil {
		return nil, webhook.Invalid("%s: fetched refunds: %v", p.Scope, err)
	}
	var evs []domain.Event
	for i, r := range list.Data {
		var moved, declined int64
		for j, pay := range r.Payments {
			a, err := domain.ParseMinorUnits(pay.Amount.String(), cur)
			if err != nil {
				return nil, webhook.Invalid("%s: refunds[%d].payments[%d].amount: %s", p.Scope, i, j, domain.ErrorMessage(err))
			}
			if pay.IsDeclined {
				declined += a
			} else {
				moved += a
			}
		}
		ev := base
		ev.EventID = base.EventID + ":refund:" + strconv.FormatInt(r.ID, 10)
		ev.Type, ev.OccurredAt = domain.PaymentRefunded, webhook.ParseTime(r.Created)
		ev.OrderRef, ev.PaymentRef = strconv.FormatInt(order, 10), "bc-order:"+strconv.FormatInt(order, 10)
		ev.Payment = &domain.PaymentChange{Amount: moved, Currency: cur, RefundRef: "refund:" + strconv.FormatInt(r.ID, 10), Reason: r.Reason}
		switch {
		case moved == 0 && declined > 0:
			ev.Type, ev.Payment.Amount = domain.RefundFailed, declined
		case moved == 0:
			continue
		}
		evs = append(evs, ev)
	}
	return evs, nil
}
