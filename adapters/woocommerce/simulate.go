package woocommerce

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator. Sample also builds TypePing, the unsigned
// creation ping, which is not listed because it is never handled.
func (Provider) SampleTypes() []string {
	return []string{
		TopicOrderCreated, TopicOrderUpdated, TopicOrderRestored,
		TopicProductUpdated, TopicCustomerCreated, TopicCustomerUpdated,
	}
}

// Flow implements webhook.Simulator: one order's life.
func (Provider) Flow() []string {
	return []string{TopicOrderCreated, TopicOrderUpdated, TopicProductUpdated}
}

func stable(s string, mod uint64) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64()%mod) + 1
}

// Sample implements webhook.Simulator. WooCommerce has no event id: the simulated
// X-WC-Webhook-ID and X-WC-Webhook-Delivery-ID derive from EventID (random when empty),
// so a repeated EventID is a duplicate delivery. The order id is OrderRef, which must be
// numeric like WooCommerce's.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if !handled[eventType] && eventType != TypePing {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "woocommerce: cannot simulate %q; try one of: %s, %s", eventType, strings.Join(p.SampleTypes(), ", "), TypePing)
	}
	o.FillDefaults()
	if o.EventID == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		o.EventID = hex.EncodeToString(b)
	}
	webhookID := stable("webhook:"+o.EventID, 100000)
	h := http.Header{}
	h.Set("User-Agent", "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)")
	if eventType == TypePing {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		return webhook.Request{Header: h, Body: []byte("webhook_id=" + strconv.FormatInt(webhookID, 10))}, nil
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "woocommerce: a signing secret is needed (--secret <webhook secret>)")
	}
	if o.OrderRef == "" {
		o.OrderRef = strconv.FormatInt(100+o.Now.UnixNano()%9000, 10)
	}
	orderID, err := strconv.ParseInt(o.OrderRef, 10, 64)
	if err != nil || orderID <= 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "woocommerce: order ids are positive integers; %q is not one", o.OrderRef)
	}
	gmt := o.Now.UTC().Format("2006-01-02T15:04:05")
	productID := stable("product:"+o.SKU, 100000)
	customerID := stable("customer:"+o.OrderRef, 100000)
	resource, event, _ := strings.Cut(eventType, ".")
	var body any
	switch {
	case resource == "order":
		status := "processing"
		if eventType == TopicOrderCreated {
			status = "pending"
		}
		sub := domain.FormatMinorUnits(o.Amount*o.Quantity, o.Currency)
		body = map[string]any{
			"id": orderID, "parent_id": 0, "number": o.OrderRef, "order_key": "wc_order_" + hex.EncodeToString([]byte(o.OrderRef)),
			"created_via": "checkout", "status": status, "currency": o.Currency, "date_created_gmt": gmt, "date_modified_gmt": gmt,
			"discount_total": domain.FormatMinorUnits(0, o.Currency), "shipping_total": domain.FormatMinorUnits(0, o.Currency), "total": sub, "total_tax": domain.FormatMinorUnits(0, o.Currency),
			"customer_id": customerID, "billing": map[string]any{"first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com"},
			"payment_method": "stripe", "payment_method_title": "Credit Card (Stripe)",
			"line_items": []any{map[string]any{
				"id": stable("line:"+o.OrderRef, 100000), "name": "Simulated product", "product_id": productID, "variation_id": 0,
				"quantity": o.Quantity, "subtotal": sub, "total": sub, "sku": o.SKU, "price": json.Number(domain.FormatMinorUnits(o.Amount, o.Currency)),
			}},
		}
	case resource == "product":
		body = map[string]any{
			"id": productID, "name": "Simulated product", "type": "simple", "status": "publish", "sku": o.SKU,
			"price": domain.FormatMinorUnits(o.Amount, o.Currency), "regular_price": domain.FormatMinorUnits(o.Amount, o.Currency), "date_modified_gmt": gmt,
			"manage_stock": true, "stock_quantity": o.Quantity, "stock_status": "instock", "backorders": "no",
		}
	default: // customer.*
		body = map[string]any{
			"id": customerID, "date_created_gmt": gmt, "date_modified_gmt": gmt, "email": "jane.doe@example.com",
			"first_name": "Jane", "last_name": "Doe", "role": "customer", "username": "jane.doe",
		}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return webhook.Request{}, err
	}
	delivery := sha256.Sum256([]byte("delivery:" + o.EventID))
	h.Set("Content-Type", "application/json")
	h.Set(SourceHeader, "https://shop.example.com/")
	h.Set(TopicHeader, eventType)
	h.Set(ResourceHeader, resource)
	h.Set(EventHeader, event)
	h.Set(SignatureHeader, Sign(src.Secrets[0], raw))
	h.Set(IDHeader, strconv.FormatInt(webhookID, 10))
	h.Set(DeliveryIDHeader, hex.EncodeToString(delivery[:16]))
	return webhook.Request{Header: h, Body: raw}, nil
}
