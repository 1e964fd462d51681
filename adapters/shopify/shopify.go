// Package shopify verifies and normalizes Shopify webhooks.
//
// Signature: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, raw body)), the secret being
// the app's client secret (or the signing key Settings → Notifications → Webhooks shows for
// webhooks made in the admin). The scheme signs no timestamp, so there is no tolerance to
// check: a replayed delivery is caught by dedupe. Every configured secret is tried.
//
// What is signed: the body, and nothing else. X-Shopify-Topic, X-Shopify-Webhook-Id,
// X-Shopify-Triggered-At and every other header can be changed by whoever replays a
// genuine body, so no fact is taken from them (docs/providers.md):
//
//   - The inbox dedupes on X-Shopify-Webhook-Id (Shopify's documented key), so a replay
//     under a new id is stored as a new row; it is harmless because every event's id is
//     derived from the signed body ("<resource>:<id>:<digest of the body>", see eventID):
//     the same body yields the same events, which apply once.
//   - X-Shopify-Topic only selects how the body is read, and a body that contradicts its
//     topic yields no event: orders/paid needs financial_status paid (or, later,
//     partially_refunded or refunded), orders/cancelled a cancelled_at, orders/fulfilled
//     fulfillment_status fulfilled, customers/* a body that is not an order, refund,
//     product or inventory level. Snapshot status comes from the body alone.
//   - OccurredAt is the body's own updated_at (processed_at, created_at), never
//     X-Shopify-Triggered-At: it orders stock levels and ties between snapshots.
//
// Topics: orders/create → OrderPlaced; orders/updated → OrderUpdated, or OrderCancelled /
// OrderFulfilled when the snapshot says so; orders/cancelled → OrderCancelled;
// orders/fulfilled → OrderFulfilled; orders/paid → OrderUpdated (the snapshot) and
// PaymentSucceeded (event id "<snapshot event id>:payment", PaymentRef
// "shopify:<order id>", amount total_price); refunds/create → one PaymentRefunded per
// successful refund transaction (PaymentRef "shopify:<order id>", RefundRef
// "transaction:<id>", so order_transactions/create reporting the same transaction counts
// it once) and one PaymentRefunded of no money, RefundRef "refund:<id>", carrying the
// units it put back in stock per line (restock_type return, cancel or legacy_restock;
// before restock_type, restock true) or, with no lines, the Restock flag;
// order_transactions/create → PaymentAuthorized, PaymentSucceeded, PaymentRefunded,
// PaymentFailed or RefundFailed by kind and status (normalizeTransaction);
// disputes/create and disputes/update → DisputeOpened or DisputeClosed on the order's
// payment "shopify:<order id>", staged by type and status (normalizeDispute);
// inventory_levels/update → InventoryLevelSet; customers/create and
// customers/update → CustomerUpserted.
//
// Snapshot status: cancelled when cancelled_at is set, fulfilled when fulfillment_status is
// "fulfilled", placed otherwise. OccurredAt is the resource's updated_at (a refund's
// processed_at or created_at). Version is updated_at in unix milliseconds (refunds have
// none: 0).
//
// Quirks: ids are above 2^53 in current shops and are decoded as int64, never float64.
// Money is decimal strings ("409.94"), parsed exactly into the order's currency (the shop
// currency). A line without a SKU is "shopify-variant:<variant_id>" (or
// "shopify-product:<product_id>", "shopify-line:<line id>" for custom lines).
// inventory_levels/update names an inventory item, not a SKU: the SKU is
// "inventory_item:<inventory_item_id>" unless the source's inventory_item_skus setting
// maps the id ("808950810=IPOD2008GREEN,808950811=IPOD2008RED"); its "available" (on hand
// minus committed) becomes OnHand; a level with available null (untracked) sets nothing;
// with the location_id setting only that location's levels are applied (a multi-location
// shop sends one level per location, and the last would win otherwise). A refund whose
// transactions did not succeed moves no money and yields no event. Refund transactions
// carry their own currency, which in a multi-currency shop may be the presentment currency.
package shopify

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of Shopify sources.
const Kind = "shopify"

// The headers Shopify sends, canonicalized.
const (
	SignatureHeader   = "X-Shopify-Hmac-Sha256"
	TopicHeader       = "X-Shopify-Topic"
	WebhookIDHeader   = "X-Shopify-Webhook-Id"
	EventIDHeader     = "X-Shopify-Event-Id"
	TriggeredAtHeader = "X-Shopify-Triggered-At"
	ShopDomainHeader  = "X-Shopify-Shop-Domain"
	APIVersionHeader  = "X-Shopify-Api-Version"
)

// The topics Tradewind handles.
const (
	TopicOrdersCreate          = "orders/create"
	TopicOrdersUpdated         = "orders/updated"
	TopicOrdersPaid            = "orders/paid"
	TopicOrdersCancelled       = "orders/cancelled"
	TopicOrdersFulfilled       = "orders/fulfilled"
	TopicRefundsCreate         = "refunds/create"
	TopicTransactionsCreate    = "order_transactions/create"
	TopicDisputesCreate        = "disputes/create"
	TopicDisputesUpdate        = "disputes/update"
	TopicInventoryLevelsUpdate = "inventory_levels/update"
	TopicCustomersCreate       = "customers/create"
	TopicCustomersUpdate       = "customers/update"
)

// Provider is the Shopify adapter. The zero value is ready to use.
type Provider struct{}

var (
	_ domain.Provider   = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

var handled = map[string]bool{
	TopicOrdersCreate: true, TopicOrdersUpdated: true, TopicOrdersPaid: true, TopicOrdersCancelled: true,
	TopicOrdersFulfilled: true, TopicRefundsCreate: true, TopicTransactionsCreate: true, TopicInventoryLevelsUpdate: true,
	TopicCustomersCreate: true, TopicCustomersUpdate: true, TopicDisputesCreate: true, TopicDisputesUpdate: true,
}

// Handles implements domain.Provider.
func (Provider) Handles(eventType string) bool { return handled[eventType] }

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	if len(src.Secrets) == 0 {
		return domain.Errorf(domain.EINVALID, "secrets: required for shopify sources; the app's client secret (or the webhook signing key shown under Settings → Notifications → Webhooks)")
	}
	for i, s := range src.Secrets {
		if s == "" {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: empty; remove it or set the app's client secret", i)
		}
	}
	if _, err := skuMap(src); err != nil {
		return err
	}
	if v := src.Settings["location_id"]; v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
			return domain.Errorf(domain.EINVALID, "location_id: %q is not a Shopify location id; give the numeric id of the location whose stock Tradewind keeps, or leave it out for a single-location shop", v)
		}
	}
	return nil
}

// skuMap parses the inventory_item_skus setting: "<inventory_item_id>=<sku>,…".
func skuMap(src domain.Source) (map[int64]string, error) {
	v := src.Settings["inventory_item_skus"]
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	out := map[int64]string{}
	for _, pair := range strings.Split(v, ",") {
		idStr, sku, ok := strings.Cut(strings.TrimSpace(pair), "=")
		id, err := strconv.ParseInt(strings.TrimSpace(idStr), 10, 64)
		sku = strings.TrimSpace(sku)
		if !ok || err != nil || id <= 0 || sku == "" {
			return nil, domain.Errorf(domain.EINVALID, "inventory_item_skus: %q is not <inventory_item_id>=<sku>; write pairs like 808950810=IPOD2008GREEN separated by commas", strings.TrimSpace(pair))
		}
		if _, dup := out[id]; dup {
			return nil, domain.Errorf(domain.EINVALID, "inventory_item_skus: inventory item %d is mapped twice", id)
		}
		out[id] = sku
	}
	return out, nil
}

// Sign returns the X-Shopify-Hmac-Sha256 value of body under secret.
func Sign(secret string, body []byte) string {
	return base64.StdEncoding.EncodeToString(webhook.HMACSHA256([]byte(secret), body))
}

// Verify implements domain.Provider.
func (Provider) Verify(_ context.Context, src domain.Source, d domain.Delivery) error {
	if err := webhook.RequireSecrets(src); err != nil {
		return err
	}
	h := d.Header.Get(SignatureHeader)
	if h == "" {
		return webhook.Reject("X-Shopify-Hmac-Sha256 header is missing; only Shopify's signed webhooks are accepted")
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h))
	if err != nil {
		return webhook.Reject("X-Shopify-Hmac-Sha256 is not base64")
	}
	expected := make([][]byte, len(src.Secrets))
	for i, s := range src.Secrets {
		expected[i] = webhook.HMACSHA256([]byte(s), d.Body)
	}
	if !webhook.MatchAny(expected, [][]byte{sig}) {
		return webhook.Reject("X-Shopify-Hmac-Sha256 matches no configured secret; use the app's client secret (or the notification signing key for admin-made webhooks)")
	}
	return nil
}

// times holds a resource's top-level fields, for the timestamps OccurredAt falls back to.
// It is read leniently: a topic Tradewind does not handle may shape them differently.
type times map[string]json.RawMessage

func (t times) occurred() time.Time {
	for _, k := range []string{"updated_at", "processed_at", "created_at"} {
		var s string
		if json.Unmarshal(t[k], &s) == nil {
			if at := webhook.ParseTime(s); !at.IsZero() {
				return at
			}
		}
	}
	return time.Time{}
}

// Parse implements domain.Provider.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	id, topic := d.Header.Get(WebhookIDHeader), d.Header.Get(TopicHeader)
	if id == "" {
		return nil, webhook.Invalid("X-Shopify-Webhook-Id header is missing: it is the dedupe key")
	}
	if topic == "" {
		return nil, webhook.Invalid("X-Shopify-Topic header is missing")
	}
	var t times
	if err := json.Unmarshal(d.Body, &t); err != nil {
		return nil, webhook.Invalid("body is not a Shopify JSON resource: %v", err)
	}
	// X-Shopify-Triggered-At is not signed: the time is the body's own.
	return []domain.Message{{ID: id, Type: topic, OccurredAt: t.occurred(), Payload: d.Body}}, nil
}

type order struct {
	ID                int64          `json:"id"`
	FinancialStatus   string         `json:"financial_status"`
	Currency          string         `json:"currency"`
	TotalPrice        domain.Decimal `json:"total_price"`
	UpdatedAt         string         `json:"updated_at"`
	CancelledAt       *string        `json:"cancelled_at"`
	FulfillmentStatus *string        `json:"fulfillment_status"`
	LineItems         []struct {
		ID        int64          `json:"id"`
		SKU       *string        `json:"sku"`
		Quantity  int64          `json:"quantity"`
		Price     domain.Decimal `json:"price"`
		VariantID *int64         `json:"variant_id"`
		ProductID *int64         `json:"product_id"`
	} `json:"line_items"`
	Customer *struct {
		ID int64 `json:"id"`
	} `json:"customer"`
}

type refund struct {
	ID              int64   `json:"id"`
	OrderID         int64   `json:"order_id"`
	Note            *string `json:"note"`
	Restock         bool    `json:"restock"`
	RefundLineItems []struct {
		Quantity    int64    `json:"quantity"`
		RestockType *string  `json:"restock_type"`
		LineItem    lineItem `json:"line_item"`
	} `json:"refund_line_items"`
	Transactions []transaction `json:"transactions"`
}

// transaction is a Shopify order transaction (a refund's, or order_transactions/create's body).
type transaction struct {
	ID       int64          `json:"id"`
	OrderID  int64          `json:"order_id"`
	Kind     string         `json:"kind"`
	Status   string         `json:"status"`
	Amount   domain.Decimal `json:"amount"`
	Currency string         `json:"currency"`
	Message  *string        `json:"message"`
}

type lineItem struct {
	ID        int64   `json:"id"`
	SKU       *string `json:"sku"`
	VariantID *int64  `json:"variant_id"`
	ProductID *int64  `json:"product_id"`
}

// sku is the line's SKU as Tradewind keys stock: its sku, else its variant, product or
// line id (order lines and refund lines name their SKU the same way).
func (l lineItem) sku() string {
	switch {
	case str(l.SKU) != "":
		return str(l.SKU)
	case l.VariantID != nil:
		return "shopify-variant:" + id(*l.VariantID)
	case l.ProductID != nil:
		return "shopify-product:" + id(*l.ProductID)
	}
	return "shopify-line:" + id(l.ID)
}

type inventoryLevel struct {
	InventoryItemID int64  `json:"inventory_item_id"`
	LocationID      int64  `json:"location_id"`
	Available       *int64 `json:"available"`
	UpdatedAt       string `json:"updated_at"`
}

type customer struct {
	ID        int64   `json:"id"`
	Email     *string `json:"email"`
	FirstName *string `json:"first_name"`
	LastName  *string `json:"last_name"`
	UpdatedAt string  `json:"updated_at"`
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// Normalize implements domain.Provider.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	if !handled[m.Type] {
		return nil, nil
	}
	var t times
	if err := json.Unmarshal(m.Payload, &t); err != nil {
		return nil, webhook.Invalid("%s: body is not a Shopify JSON resource: %v", m.Type, err)
	}
	// Only the signed body counts: the time is its own (rows stored before the
	// Triggered-At header was ignored hold that header's time in m.OccurredAt), and
	// event ids are derived from it below.
	base := domain.Event{Provider: Kind, Source: src.ID, OccurredAt: t.occurred()}
	switch m.Type {
	case TopicRefundsCreate:
		return normalizeRefund(base, m)
	case TopicTransactionsCreate:
		return normalizeTransaction(base, m)
	case TopicDisputesCreate, TopicDisputesUpdate:
		return normalizeDispute(base, m)
	case TopicInventoryLevelsUpdate:
		return normalizeInventory(src, base, m)
	case TopicCustomersCreate, TopicCustomersUpdate:
		var c customer
		if err := json.Unmarshal(m.Payload, &c); err != nil {
			return nil, webhook.Invalid("%s: %v", m.Type, err)
		}
		if c.ID == 0 {
			return nil, webhook.Invalid("%s: customer id is missing", m.Type)
		}
		for _, k := range []string{"line_items", "order_id", "inventory_item_id", "variants", "financial_status"} {
			if _, ok := t[k]; ok {
				return nil, nil // an order, refund, level or product replayed under a customer topic
			}
		}
		ev := base
		ev.EventID = eventID("customer", id(c.ID), m.Payload)
		ev.Type, ev.CustomerRef, ev.Version = domain.CustomerUpserted, id(c.ID), millis(c.UpdatedAt)
		ev.Customer = &domain.Customer{Email: str(c.Email), FirstName: str(c.FirstName), LastName: str(c.LastName)}
		return []domain.Event{ev}, nil
	default:
		return normalizeOrder(base, m)
	}
}

// eventID is the id of the event a signed body yields: the resource, its id and a digest
// of the body's bytes. Shopify's own ids (X-Shopify-Webhook-Id, X-Shopify-Event-Id) are
// unsigned headers; with ids from the body, the same body replayed under any headers
// yields events already applied, and two different bodies (signed, so Shopify's) never
// share one. Identical bodies sent under two topics (orders/updated and orders/paid for
// one change) share the snapshot event, which is the same snapshot.
func eventID(resource, resourceID string, body []byte) string {
	sum := sha256.Sum256(body)
	return resource + ":" + resourceID + ":" + hex.EncodeToString(sum[:8])
}

// paidStatuses are the financial statuses of an order that has been paid: orders/paid
// may arrive after a refund changed "paid" to one of the others.
var paidStatuses = map[string]bool{"paid": true, "partially_refunded": true, "refunded": true}

func millis(s string) int64 {
	if t := webhook.ParseTime(s); !t.IsZero() {
		return t.UnixMilli()
	}
	return 0
}

func normalizeOrder(base domain.Event, m domain.Message) ([]domain.Event, error) {
	var o order
	if err := json.Unmarshal(m.Payload, &o); err != nil {
		return nil, webhook.Invalid("%s: %v", m.Type, err)
	}
	if o.ID == 0 {
		return nil, webhook.Invalid("%s: order id is missing", m.Type)
	}
	// The topic is unsigned: a body that contradicts it is a replay under another
	// topic (or a Shopify oddity) and changes nothing.
	switch {
	case m.Type == TopicOrdersPaid && !paidStatuses[o.FinancialStatus],
		m.Type == TopicOrdersCancelled && str(o.CancelledAt) == "",
		m.Type == TopicOrdersFulfilled && str(o.FulfillmentStatus) != "fulfilled":
		return nil, nil
	}
	cur, err := domain.NormalizeCurrency(o.Currency)
	if err != nil {
		return nil, webhook.Invalid("%s: order %d: %s", m.Type, o.ID, domain.ErrorMessage(err))
	}
	total, err := domain.ParseMinorUnits(string(o.TotalPrice), cur)
	if err != nil {
		return nil, webhook.Invalid("%s: order %d total_price: %s", m.Type, o.ID, domain.ErrorMessage(err))
	}
	snap := &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: cur, Total: total}
	switch {
	case str(o.CancelledAt) != "":
		snap.Status = domain.StatusCancelled
	case str(o.FulfillmentStatus) == "fulfilled":
		snap.Status = domain.StatusFulfilled
	}
	for i, l := range o.LineItems {
		unit, err := domain.ParseMinorUnits(string(l.Price), cur)
		if err != nil {
			return nil, webhook.Invalid("%s: order %d line_items[%d].price: %s", m.Type, o.ID, i, domain.ErrorMessage(err))
		}
		sku := lineItem{ID: l.ID, SKU: l.SKU, VariantID: l.VariantID, ProductID: l.ProductID}.sku()
		snap.Lines = append(snap.Lines, domain.Line{SKU: sku, Quantity: l.Quantity, UnitPrice: unit})
	}
	ev := base
	ev.EventID = eventID("order", id(o.ID), m.Payload)
	ev.OrderRef, ev.Version, ev.Order = id(o.ID), millis(o.UpdatedAt), snap
	if o.Customer != nil && o.Customer.ID != 0 {
		ev.CustomerRef = id(o.Customer.ID)
	}
	// The status is the body's (checked against the topic above); the topic only
	// names a new order.
	switch {
	case snap.Status == domain.StatusCancelled:
		ev.Type = domain.OrderCancelled
	case snap.Status == domain.StatusFulfilled:
		ev.Type = domain.OrderFulfilled
	case m.Type == TopicOrdersCreate:
		ev.Type = domain.OrderPlaced
	default:
		ev.Type = domain.OrderUpdated
	}
	if m.Type != TopicOrdersPaid {
		return []domain.Event{ev}, nil
	}
	// orders/paid whose body says paid: the snapshot, and the payment that made the order paid.
	pay := base
	pay.Type, pay.OrderRef, pay.PaymentRef, pay.CustomerRef = domain.PaymentSucceeded, ev.OrderRef, "shopify:"+ev.OrderRef, ev.CustomerRef
	pay.EventID = ev.EventID + ":payment"
	pay.Payment = &domain.PaymentChange{Amount: total, Currency: cur}
	return []domain.Event{ev, pay}, nil
}

// normalizeRefund turns a refund into one PaymentRefunded per successful refund
// transaction, keyed by the transaction (order_transactions/create reports the same
// transactions: each counts once), and one PaymentRefunded of no money keyed by the
// refund that carries what it put back in stock, line by line.
func normalizeRefund(base domain.Event, m domain.Message) ([]domain.Event, error) {
	var r refund
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		return nil, webhook.Invalid("%s: %v", m.Type, err)
	}
	if r.ID == 0 || r.OrderID == 0 {
		return nil, webhook.Invalid("%s: refund id or order_id is missing", m.Type)
	}
	refundEvent := eventID("refund", id(r.ID), m.Payload)
	base.Type, base.OrderRef = domain.PaymentRefunded, id(r.OrderID)
	base.PaymentRef = "shopify:" + base.OrderRef
	var evs []domain.Event
	cur := ""
	for i, tx := range r.Transactions {
		if tx.Kind != "refund" || tx.Status != "success" {
			continue
		}
		amount, c, err := tx.money()
		if err != nil {
			return nil, webhook.Invalid("%s: refund %d transactions[%d]: %s", m.Type, r.ID, i, domain.ErrorMessage(err))
		}
		if cur != "" && c != cur {
			return nil, webhook.Invalid("%s: refund %d mixes currencies %s and %s", m.Type, r.ID, cur, c)
		}
		cur = c
		ev := base
		ref := "transaction:" + id(tx.ID)
		if tx.ID == 0 {
			ref = "refund:" + id(r.ID) + "#" + strconv.Itoa(i)
		}
		ev.EventID = refundEvent + ":" + ref
		ev.Payment = &domain.PaymentChange{Amount: amount, Currency: c, RefundRef: ref, Reason: str(r.Note)}
		evs = append(evs, ev)
	}
	// What the refund put back in stock: restock_type return, cancel or legacy_restock
	// restock the line's quantity, no_restock does not; a refund from before
	// restock_type (API versions up to 2019-10) restocks its lines when restock is true.
	var lines []domain.RestockLine
	for _, l := range r.RefundLineItems {
		back := r.Restock
		if l.RestockType != nil {
			back = *l.RestockType == "return" || *l.RestockType == "cancel" || *l.RestockType == "legacy_restock"
		}
		if back && l.Quantity > 0 {
			lines = append(lines, domain.RestockLine{SKU: l.LineItem.sku(), Quantity: l.Quantity})
		}
	}
	if len(lines) > 0 || (r.Restock && len(r.RefundLineItems) == 0) {
		ev := base
		ev.EventID = refundEvent + ":restock"
		ev.Payment = &domain.PaymentChange{Currency: cur, RefundRef: "refund:" + id(r.ID), RestockLines: lines,
			Restock: len(r.RefundLineItems) == 0, Reason: str(r.Note)}
		evs = append(evs, ev)
	}
	return evs, nil
}

// money is the transaction's amount in ISO minor units of its currency.
func (tx transaction) money() (int64, string, error) {
	c, err := domain.NormalizeCurrency(tx.Currency)
	if err != nil {
		return 0, "", err
	}
	a, err := domain.ParseMinorUnits(string(tx.Amount), c)
	if err != nil {
		return 0, "", domain.Errorf(domain.EINVALID, "amount: %s", domain.ErrorMessage(err))
	}
	return a, c, nil
}

// normalizeTransaction turns order_transactions/create into the payment fact it is, on
// the order's payment "shopify:<order id>" (the one orders/paid reports):
// authorization → PaymentAuthorized, capture and sale → PaymentSucceeded, refund →
// PaymentRefunded keyed by the transaction (refunds/create reports the same one), void
// → PaymentFailed; a failed (failure, error) authorization, capture or sale is
// PaymentFailed, a failed refund RefundFailed. Pending transactions are not facts yet
// (Shopify reports the outcome as another transaction) and yield nothing. Amounts are
// per transaction, folded as the payment's maximum: a capture never adds to what
// orders/paid already counted.
func normalizeTransaction(base domain.Event, m domain.Message) ([]domain.Event, error) {
	var tx transaction
	if err := json.Unmarshal(m.Payload, &tx); err != nil {
		return nil, webhook.Invalid("%s: %v", m.Type, err)
	}
	if tx.ID == 0 || tx.OrderID == 0 {
		return nil, webhook.Invalid("%s: transaction id or order_id is missing", m.Type)
	}
	ok := tx.Status == "success"
	if !ok && tx.Status != "failure" && tx.Status != "error" {
		return nil, nil
	}
	amount, cur, err := tx.money()
	if err != nil {
		return nil, webhook.Invalid("%s: transaction %d: %s", m.Type, tx.ID, domain.ErrorMessage(err))
	}
	ev := base
	ev.EventID = eventID("transaction", id(tx.ID), m.Payload)
	ev.OrderRef = id(tx.OrderID)
	ev.PaymentRef = "shopify:" + ev.OrderRef
	ev.Payment = &domain.PaymentChange{Amount: amount, Currency: cur}
	switch {
	case tx.Kind == "refund":
		ev.Type, ev.Payment.RefundRef = domain.PaymentRefunded, "transaction:"+id(tx.ID)
		if !ok {
			ev.Type, ev.Payment.Reason = domain.RefundFailed, strings.TrimSpace(tx.Status+" "+str(tx.Message))
		}
	case !ok && (tx.Kind == "authorization" || tx.Kind == "capture" || tx.Kind == "sale"):
		ev.Type, ev.Payment.Reason = domain.PaymentFailed, strings.TrimSpace(tx.Kind+" "+tx.Status+" "+str(tx.Message))
	case !ok:
		return nil, nil // a void or change that failed: nothing moved
	case tx.Kind == "authorization":
		ev.Type = domain.PaymentAuthorized
	case tx.Kind == "capture" || tx.Kind == "sale":
		ev.Type = domain.PaymentSucceeded
	case tx.Kind == "void":
		ev.Type, ev.Payment.Reason = domain.PaymentFailed, "voided"
	default:
		return nil, nil // change (cash given back) and kinds Shopify may add
	}
	return []domain.Event{ev}, nil
}

func normalizeInventory(src domain.Source, base domain.Event, m domain.Message) ([]domain.Event, error) {
	var l inventoryLevel
	if err := json.Unmarshal(m.Payload, &l); err != nil {
		return nil, webhook.Invalid("%s: %v", m.Type, err)
	}
	if l.InventoryItemID == 0 {
		return nil, webhook.Invalid("%s: inventory_item_id is missing", m.Type)
	}
	if l.Available == nil {
		return nil, nil // not tracked at this location
	}
	if loc := src.Settings["location_id"]; loc != "" && loc != id(l.LocationID) {
		return nil, nil // another location's stock
	}
	skus, err := skuMap(src)
	if err != nil {
		return nil, err
	}
	sku, ok := skus[l.InventoryItemID]
	if !ok {
		sku = "inventory_item:" + id(l.InventoryItemID)
	}
	ev := base
	ev.EventID = eventID("inventory_level", id(l.InventoryItemID)+"@"+id(l.LocationID), m.Payload)
	ev.Type, ev.Version = domain.InventoryLevelSet, millis(l.UpdatedAt)
	ev.Stock = &domain.StockLevel{SKU: sku, OnHand: *l.Available}
	return []domain.Event{ev}, nil
}

// dispute is a Shopify Payments dispute (the disputes/create and disputes/update body).
type dispute struct {
	ID          int64          `json:"id"`
	OrderID     *int64         `json:"order_id"`
	Type        string         `json:"type"`
	Amount      domain.Decimal `json:"amount"`
	Currency    string         `json:"currency"`
	Reason      string         `json:"reason"`
	Status      string         `json:"status"`
	InitiatedAt string         `json:"initiated_at"`
	EvidenceOn  *string        `json:"evidence_sent_on"`
	FinalizedOn *string        `json:"finalized_on"`
}

// disputeStage places a Shopify dispute fact in the dispute's lifecycle (domain.Dispute
// Stage and Outcome). type says the phase: an inquiry (1) can turn into a chargeback (2),
// keeping its id. status says the outcome within it: needs_response and under_review
// are open; won, and prevented (kept from becoming a chargeback), are won;
// charge_refunded (the charge was refunded, and the refund reports that money) is
// closed without a loss: won; lost, and accepted (the merchant accepted the dispute),
// are lost. A status Shopify may add is open.
func disputeStage(typ, status string) (int, string) {
	stage := 1
	if typ == "chargeback" {
		stage = 2
	}
	switch status {
	case "won", "prevented", "charge_refunded":
		return stage, domain.DisputeWon
	case "lost", "accepted":
		return stage, domain.DisputeLost
	}
	return stage, domain.DisputeOpen
}

// normalizeDispute turns disputes/create and disputes/update into the dispute fact on the
// order's payment "shopify:<order id>" (the one orders/paid and order_transactions/create
// report): DisputeOpened while it is open, DisputeClosed once won or lost. Each body is one
// fact, keyed by the body like every Shopify event; the lifecycle stage makes any order of
// arrival end in the same state. A dispute on no order (order_id null) names no payment
// Tradewind keeps and yields nothing. OccurredAt is finalized_on, else evidence_sent_on,
// else initiated_at (a dispute has no updated_at).
func normalizeDispute(base domain.Event, m domain.Message) ([]domain.Event, error) {
	var d dispute
	if err := json.Unmarshal(m.Payload, &d); err != nil {
		return nil, webhook.Invalid("%s: %v", m.Type, err)
	}
	if d.ID == 0 {
		return nil, webhook.Invalid("%s: dispute id is missing", m.Type)
	}
	if d.OrderID == nil || *d.OrderID == 0 {
		return nil, nil
	}
	cur, err := domain.NormalizeCurrency(d.Currency)
	if err != nil {
		return nil, webhook.Invalid("%s: dispute %d: %s", m.Type, d.ID, domain.ErrorMessage(err))
	}
	amount, err := domain.ParseMinorUnits(string(d.Amount), cur)
	if err != nil {
		return nil, webhook.Invalid("%s: dispute %d amount: %s", m.Type, d.ID, domain.ErrorMessage(err))
	}
	ev := base
	ev.EventID = eventID("dispute", id(d.ID), m.Payload)
	ev.OrderRef = id(*d.OrderID)
	ev.PaymentRef = "shopify:" + ev.OrderRef
	for _, at := range []string{str(d.FinalizedOn), str(d.EvidenceOn), d.InitiatedAt} {
		if t := webhook.ParseTime(at); !t.IsZero() {
			ev.OccurredAt = t
			break
		}
	}
	dd := &domain.Dispute{Ref: id(d.ID), Amount: amount, Currency: cur, Status: d.Status, Reason: d.Reason}
	dd.Stage, dd.Outcome = disputeStage(d.Type, d.Status)
	ev.Type, ev.Dispute = domain.DisputeOpened, dd
	if dd.Closed() {
		ev.Type = domain.DisputeClosed
	}
	return []domain.Event{ev}, nil
}
