package shopify

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string {
	return []string{
		TopicOrdersCreate, TopicOrdersPaid, TopicOrdersUpdated, TopicOrdersFulfilled, TopicOrdersCancelled,
		TopicRefundsCreate, TopicInventoryLevelsUpdate, TopicCustomersCreate, TopicCustomersUpdate,
		TopicDisputesCreate, TopicDisputesUpdate,
	}
}

// Flow implements webhook.Simulator: one order's life.
func (Provider) Flow() []string {
	return []string{TopicOrdersCreate, TopicOrdersPaid, TopicOrdersFulfilled, TopicRefundsCreate}
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// small derives a stable id from s: Shopify ids of simulated objects that SampleOptions
// do not name.
func small(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64()%9_000_000_000) + 1_000_000_000
}

// Sample implements webhook.Simulator. X-Shopify-Webhook-Id is EventID (a random UUID
// when empty), so a repeated EventID is a duplicate delivery. The order id is OrderRef,
// which must be numeric like Shopify's.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if !handled[eventType] {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "shopify: cannot simulate %q; try one of: %s", eventType, strings.Join(p.SampleTypes(), ", "))
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "shopify: a signing secret is needed (--secret <client secret>)")
	}
	o.FillDefaults()
	if o.EventID == "" {
		o.EventID = uuid()
	}
	if o.OrderRef == "" {
		o.OrderRef = strconv.FormatInt(5_000_000_000_000+o.Now.UnixNano()%1_000_000_000, 10)
	}
	orderID, err := strconv.ParseInt(o.OrderRef, 10, 64)
	if err != nil || orderID <= 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "shopify: order ids are positive integers; %q is not one", o.OrderRef)
	}
	now := o.Now.UTC().Truncate(time.Second)
	ts := now.Format(time.RFC3339)
	customer := map[string]any{
		"id": small("customer:" + o.OrderRef), "email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe",
		"created_at": ts, "updated_at": ts, "state": "enabled", "verified_email": true, "currency": o.Currency,
	}
	var body any
	switch eventType {
	case TopicRefundsCreate:
		refundID := small("refund:" + o.EventID)
		body = map[string]any{
			"id": refundID, "order_id": orderID, "created_at": ts, "processed_at": ts, "note": "Simulated refund", "restock": false,
			"refund_line_items": []any{map[string]any{
				"id": small("rli:" + o.EventID), "quantity": o.Quantity, "line_item_id": small("line:" + o.OrderRef), "restock_type": "return",
				"subtotal": domain.FormatMinorUnits(o.Amount*o.Quantity, o.Currency),
			}},
			"transactions": []any{map[string]any{
				"id": small("tx:" + o.EventID), "order_id": orderID, "kind": "refund", "gateway": "bogus", "status": "success",
				"amount": domain.FormatMinorUnits(o.Amount*o.Quantity, o.Currency), "currency": o.Currency, "created_at": ts,
			}},
		}
	case TopicInventoryLevelsUpdate:
		item := small("item:" + o.SKU)
		skus, _ := skuMap(src)
		mapped := int64(0) // the lowest inventory item the source maps to the SKU
		for id, sku := range skus {
			if sku == o.SKU && (mapped == 0 || id < mapped) {
				mapped = id
			}
		}
		if mapped != 0 {
			item = mapped
		}
		loc := int64(905684977)
		if v, err := strconv.ParseInt(src.Settings["location_id"], 10, 64); err == nil {
			loc = v
		}
		body = map[string]any{"inventory_item_id": item, "location_id": loc, "available": o.Quantity, "updated_at": ts,
			"admin_graphql_api_id": fmt.Sprintf("gid://shopify/InventoryLevel/%d?inventory_item_id=%d", loc, item)}
	case TopicCustomersCreate, TopicCustomersUpdate:
		body = customer
	case TopicDisputesCreate, TopicDisputesUpdate:
		// A chargeback on the order's whole amount: needs_response when created, won
		// when updated (evidence accepted).
		status, finalized := "needs_response", any(nil)
		if eventType == TopicDisputesUpdate {
			status, finalized = "won", ts
		}
		body = map[string]any{
			"id": small("dispute:" + o.OrderRef), "order_id": orderID, "type": "chargeback",
			"amount": domain.FormatMinorUnits(o.Amount*o.Quantity, o.Currency), "currency": o.Currency,
			"reason": "fraudulent", "network_reason_code": "4837", "status": status,
			"evidence_due_by": now.Add(14 * 24 * time.Hour).Format(time.RFC3339), "evidence_sent_on": nil,
			"finalized_on": finalized, "initiated_at": ts,
		}
	default:
		total := domain.FormatMinorUnits(o.Amount*o.Quantity, o.Currency)
		// Each step of an order's life updates it: updated_at (the snapshot's version,
		// signed in the body) grows along the flow, so shuffled deliveries converge on
		// the last step as they do from Shopify.
		step := map[string]time.Duration{TopicOrdersPaid: 1, TopicOrdersUpdated: 1, TopicOrdersFulfilled: 2, TopicOrdersCancelled: 3}[eventType]
		ord := map[string]any{
			"id": orderID, "name": "#" + o.OrderRef, "order_number": orderID % 100000, "email": "jane.doe@example.com",
			"created_at": ts, "updated_at": now.Add(step * time.Second).Format(time.RFC3339), "currency": o.Currency, "presentment_currency": o.Currency,
			"subtotal_price": total, "total_price": total, "total_tax": domain.FormatMinorUnits(0, o.Currency), "total_discounts": domain.FormatMinorUnits(0, o.Currency),
			"financial_status": "pending", "fulfillment_status": nil, "cancelled_at": nil, "cancel_reason": nil,
			"line_items": []any{map[string]any{
				"id": small("line:" + o.OrderRef), "variant_id": small("variant:" + o.SKU), "product_id": small("product:" + o.SKU),
				"sku": o.SKU, "title": "Simulated product", "quantity": o.Quantity, "price": domain.FormatMinorUnits(o.Amount, o.Currency),
				"requires_shipping": true, "fulfillment_status": nil,
			}},
			"customer": customer,
		}
		switch eventType {
		case TopicOrdersPaid:
			ord["financial_status"] = "paid"
		case TopicOrdersFulfilled:
			ord["financial_status"], ord["fulfillment_status"] = "paid", "fulfilled"
		case TopicOrdersCancelled:
			ord["financial_status"], ord["cancelled_at"], ord["cancel_reason"] = "voided", ts, "customer"
		}
		body = ord
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(TopicHeader, eventType)
	h.Set(WebhookIDHeader, o.EventID)
	h.Set(EventIDHeader, strconv.FormatInt(small("event:"+o.EventID), 10))
	h.Set(TriggeredAtHeader, o.Now.UTC().Format(time.RFC3339Nano))
	h.Set(ShopDomainHeader, "tradewind-sim.myshopify.com")
	h.Set(APIVersionHeader, "2025-07")
	h.Set(SignatureHeader, Sign(src.Secrets[0], raw))
	return webhook.Request{Header: h, Body: raw}, nil
}
