package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/adyen"
	"github.com/tradewind/tradewind/adapters/bigcommerce"
	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/adapters/woocommerce"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// The money facts of issue #14 through ingress → worker → API: lost disputes, failed
// refunds, refunds that restock some lines, and Shopify's own transactions, each sent
// signed to the demo sources the way the provider sends it.

const (
	demoStripeSecret  = "whsec_tradewind_dev_secret"
	demoAdyenKey      = "74984370D044570F8A71946A9A47171BE7FBE358FDDB8AE45911C9215DE235B7"
	demoShopifySecret = "tradewind_dev_shopify_client_secret"
)

// signedDelivery is one signed webhook for a demo source.
type signedDelivery struct {
	name   string
	source string
	req    webhook.Request
}

func stripeDelivery(t *testing.T, name, id, typ string, object map[string]any) signedDelivery {
	t.Helper()
	body, err := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "created": 1767225600, "data": map[string]any{"object": object}})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Stripe-Signature", webhook.SignTimestamped(demoStripeSecret, time.Now().Unix(), body))
	return signedDelivery{name, "demo-stripe", webhook.Request{Header: h, Body: body}}
}

func shopifyDelivery(t *testing.T, name, topic string, resource map[string]any) signedDelivery {
	t.Helper()
	body, err := json.Marshal(resource)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(demoShopifySecret))
	mac.Write(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Shopify-Topic", topic)
	h.Set("X-Shopify-Webhook-Id", "wh-"+name)
	h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return signedDelivery{name, "demo-shopify", webhook.Request{Header: h, Body: body}}
}

func adyenDelivery(t *testing.T, name string, it adyen.Item) signedDelivery {
	t.Helper()
	it.MerchantAccountCode = "TradewindDemo"
	it.Success = "true"
	sig, err := adyen.Sign(demoAdyenKey, it)
	if err != nil {
		t.Fatal(err)
	}
	it.AdditionalData = map[string]any{"hmacSignature": sig}
	body, err := json.Marshal(map[string]any{"live": "false", "notificationItems": []any{map[string]any{"NotificationRequestItem": it}}})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return signedDelivery{name, "demo-adyen", webhook.Request{Header: h, Body: body}}
}

func bigcommerceDelivery(t *testing.T, name string, payload map[string]any) signedDelivery {
	t.Helper()
	payload["created_at"], payload["store_id"], payload["producer"] = time.Now().Unix(), "1025646", "stores/tradewinddemo"
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	stdwebhooks.SetHeaders(h, []byte("tradewind_dev_bigcommerce_client_secret"), "msg_"+name, time.Now().Unix(), body)
	return signedDelivery{name, "demo-bigcommerce", webhook.Request{Header: h, Body: body}}
}

func wooDelivery(t *testing.T, name, topic string, resource map[string]any) signedDelivery {
	t.Helper()
	body, err := json.Marshal(resource)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(woocommerce.TopicHeader, topic)
	h.Set(woocommerce.IDHeader, "3")
	h.Set(woocommerce.DeliveryIDHeader, "d-"+name)
	h.Set(woocommerce.SignatureHeader, woocommerce.Sign("tradewind_dev_woocommerce_secret", body))
	return signedDelivery{name, "demo-woocommerce", webhook.Request{Header: h, Body: body}}
}

// simDelivery is the provider simulator's signed delivery of typ for a demo source: the
// simulators sign the way the providers do (PayPal with the certificate the demo source pins).
func simDelivery(t *testing.T, sources map[string]domain.Source, source, typ, eventID, orderRef string, amount int64, currency string) signedDelivery {
	t.Helper()
	src := sources[source]
	a, ok := registry.Lookup(src.Provider)
	if !ok {
		t.Fatalf("no adapter for %s", src.Provider)
	}
	sim, ok := a.(webhook.Simulator)
	if !ok {
		t.Fatalf("%s has no simulator", src.Provider)
	}
	r, err := sim.Sample(src, typ, webhook.SampleOptions{EventID: eventID, OrderRef: orderRef, Amount: amount, Currency: currency, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return signedDelivery{source + "-" + eventID, source, r}
}

func (d signedDelivery) send(t *testing.T, m *Main) {
	t.Helper()
	if r := post(t, webhookURL(m, d.source), d.req); r.status/100 != 2 {
		t.Fatalf("%s: answered %d %s, want 2xx", d.name, r.status, r.body)
	}
}

// piObject is a succeeded Stripe payment intent for an order, in cents.
func piObject(id, orderRef string, amount int64) map[string]any {
	return map[string]any{"id": id, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": "usd",
		"status": "succeeded", "metadata": map[string]any{"order_ref": orderRef}}
}

func disputeObject(id, pi, status string, amount int64) map[string]any {
	return map[string]any{"id": id, "object": "dispute", "amount": amount, "currency": "usd", "charge": "ch_" + pi,
		"payment_intent": pi, "status": status, "reason": "fraudulent", "metadata": map[string]any{}}
}

func refundObject(id, pi, status string, amount int64) map[string]any {
	return map[string]any{"id": id, "object": "refund", "amount": amount, "currency": "usd", "charge": "ch_" + pi,
		"payment_intent": pi, "status": status, "metadata": map[string]any{}}
}

// shopifyOrder is an orders/create body: qty units of sku at 10.00.
func shopifyOrder(id int64, sku string, qty int64) map[string]any {
	return map[string]any{"id": id, "currency": "USD", "total_price": fmt.Sprintf("%d.00", 10*qty), "financial_status": "pending",
		"updated_at": "2026-01-01T10:00:00Z", "created_at": "2026-01-01T10:00:00Z", "cancelled_at": nil, "fulfillment_status": nil,
		"line_items": []any{map[string]any{"id": id + 1, "sku": sku, "quantity": qty, "price": "10.00", "variant_id": id + 2}}}
}

// shopifyRefund is a refunds/create body restocking one unit of sku (restock_type
// return) with one successful refund transaction of 10.00.
func shopifyRefund(id, orderID int64, sku string) map[string]any {
	return map[string]any{"id": id, "order_id": orderID, "created_at": "2026-01-01T12:00:00Z", "note": "returned", "restock": false,
		"refund_line_items": []any{map[string]any{"id": id + 1, "quantity": 1, "restock_type": "return",
			"line_item": map[string]any{"id": orderID + 1, "sku": sku, "quantity": 3, "price": "10.00"}}},
		"transactions": []any{map[string]any{"id": id + 2, "order_id": orderID, "kind": "refund", "status": "success", "amount": "10.00", "currency": "USD"}}}
}

type stockView struct {
	OnHand   int64 `json:"on_hand"`
	Reserved int64 `json:"reserved"`
}

func TestMoneyFactsEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	store := bigcommerce.NewFakeStore()
	storeAPI := httptest.NewServer(store)
	t.Cleanup(storeAPI.Close)
	_, sources := demoSources(t, map[string]string{"bigcommerce": storeAPI.URL})
	m := e.startWith(sources)
	logUnapplied(t, e)
	waitStatus := func(ref, want string) { waitPaymentStatus(t, m, ref, want, 15*time.Second) }

	t.Run("stripe dispute: funds withdrawn is disputed, closed lost is charged_back", func(t *testing.T) {
		stripeDelivery(t, "pi", "evt_s1_pi", "payment_intent.succeeded", piObject("pi_S1", "S1", 5000)).send(t, m)
		waitStatus("S1", "paid")
		stripeDelivery(t, "withdrawn", "evt_s1_dw", "charge.dispute.funds_withdrawn", disputeObject("dp_S1", "pi_S1", "needs_response", 5000)).send(t, m)
		waitStatus("S1", "disputed")
		stripeDelivery(t, "closed", "evt_s1_dc", "charge.dispute.closed", disputeObject("dp_S1", "pi_S1", "lost", 5000)).send(t, m)
		waitStatus("S1", "charged_back")
	})
	t.Run("stripe dispute: closed with the deprecated charge_refunded is over, its money counted as the refund", func(t *testing.T) {
		stripeDelivery(t, "pi", "evt_s5_pi", "payment_intent.succeeded", piObject("pi_S5", "S5", 5000)).send(t, m)
		waitStatus("S5", "paid")
		stripeDelivery(t, "created", "evt_s5_dc", "charge.dispute.created", disputeObject("dp_S5", "pi_S5", "needs_response", 5000)).send(t, m)
		waitStatus("S5", "disputed")
		stripeDelivery(t, "refund", "evt_s5_rc", "refund.created", refundObject("re_S5", "pi_S5", "succeeded", 5000)).send(t, m)
		stripeDelivery(t, "closed", "evt_s5_dx", "charge.dispute.closed", disputeObject("dp_S5", "pi_S5", "charge_refunded", 5000)).send(t, m)
		waitStatus("S5", "refunded")
	})
	t.Run("stripe refund: a failed refund stops counting", func(t *testing.T) {
		stripeDelivery(t, "pi", "evt_s2_pi", "payment_intent.succeeded", piObject("pi_S2", "S2", 5000)).send(t, m)
		stripeDelivery(t, "refund", "evt_s2_rc", "refund.created", refundObject("re_S2", "pi_S2", "pending", 2000)).send(t, m)
		waitStatus("S2", "partially_refunded")
		stripeDelivery(t, "failed", "evt_s2_rf", "refund.failed", refundObject("re_S2", "pi_S2", "failed", 2000)).send(t, m)
		waitStatus("S2", "paid")
		stripeDelivery(t, "canceled", "evt_s2_ru", "refund.updated", refundObject("re_S2b", "pi_S2", "canceled", 1000)).send(t, m)
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			return e.count(`SELECT count(*) FROM refunds WHERE ref = 're_S2b' AND failed`) == 1, "the canceled refund recorded as failed"
		})
		waitStatus("S2", "paid")
	})
	t.Run("adyen: a second chargeback before its chargeback is charged_back; REFUND_FAILED stops the refund counting", func(t *testing.T) {
		amount := adyen.Amount{Value: 4200, Currency: "EUR"}
		adyenDelivery(t, "auth", adyen.Item{EventCode: "AUTHORISATION", PSPReference: "PAY-A3", MerchantReference: "A3", Amount: amount}).send(t, m)
		adyenDelivery(t, "capture", adyen.Item{EventCode: "CAPTURE", PSPReference: "CAP-A3", OriginalReference: "PAY-A3", MerchantReference: "A3", Amount: amount}).send(t, m)
		waitStatus("A3", "paid")
		adyenDelivery(t, "second", adyen.Item{EventCode: "SECOND_CHARGEBACK", PSPReference: "DSP-A3", OriginalReference: "PAY-A3", MerchantReference: "A3", Amount: amount}).send(t, m)
		adyenDelivery(t, "chargeback", adyen.Item{EventCode: "CHARGEBACK", PSPReference: "DSP-A3", OriginalReference: "PAY-A3", MerchantReference: "A3", Amount: amount}).send(t, m)
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			return e.count(`SELECT count(*) FROM inbox WHERE source = 'demo-adyen' AND event_type = 'CHARGEBACK' AND status = 'applied'`) == 1, "the CHARGEBACK applied"
		})
		waitStatus("A3", "charged_back")

		adyenDelivery(t, "auth4", adyen.Item{EventCode: "AUTHORISATION", PSPReference: "PAY-A4", MerchantReference: "A4", Amount: amount}).send(t, m)
		adyenDelivery(t, "capture4", adyen.Item{EventCode: "CAPTURE", PSPReference: "CAP-A4", OriginalReference: "PAY-A4", MerchantReference: "A4", Amount: amount}).send(t, m)
		adyenDelivery(t, "refund4", adyen.Item{EventCode: "REFUND", PSPReference: "REF-A4", OriginalReference: "PAY-A4", MerchantReference: "A4", Amount: amount}).send(t, m)
		waitStatus("A4", "refunded")
		adyenDelivery(t, "refund-failed4", adyen.Item{EventCode: "REFUND_FAILED", PSPReference: "REF-A4", OriginalReference: "PAY-A4", MerchantReference: "A4", Amount: amount}).send(t, m)
		waitStatus("A4", "paid")
	})
	t.Run("shopify: a partial refund restocks its line through the ledger; order_transactions/create pays", func(t *testing.T) {
		if code := api(t, m, http.MethodPut, "/api/v1/inventory/SH-5", map[string]int{"on_hand": 10}, nil); code != http.StatusOK {
			t.Fatalf("PUT inventory = %d", code)
		}
		shopifyDelivery(t, "order", "orders/create", shopifyOrder(5000, "SH-5", 3)).send(t, m)
		shopifyDelivery(t, "sale", "order_transactions/create", map[string]any{"id": 5100, "order_id": 5000, "kind": "sale", "status": "success",
			"amount": "30.00", "currency": "USD", "created_at": "2026-01-01T10:01:00Z"}).send(t, m)
		waitStatus("5000", "paid")
		var s stockView
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			return apiGet(t, m, "inventory/SH-5", &s) == http.StatusOK && s.OnHand == 7, fmt.Sprintf("SH-5 on hand 7 after the sale (now %+v)", s)
		})
		refund := shopifyDelivery(t, "refund", "refunds/create", shopifyRefund(5200, 5000, "SH-5"))
		refund.send(t, m)
		// The same refund again, and its transaction through order_transactions/create:
		// each unit and each cent once.
		again := refund
		again.req.Header = refund.req.Header.Clone()
		again.req.Header.Set("X-Shopify-Webhook-Id", "wh-refund-again")
		again.send(t, m)
		shopifyDelivery(t, "refund-tx", "order_transactions/create", map[string]any{"id": 5202, "order_id": 5000, "kind": "refund", "status": "success",
			"amount": "10.00", "currency": "USD", "created_at": "2026-01-01T12:00:00Z"}).send(t, m)
		waitStatus("5000", "partially_refunded")
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			return apiGet(t, m, "inventory/SH-5", &s) == http.StatusOK && s.OnHand == 8, fmt.Sprintf("SH-5 on hand 8 after one unit came back (now %+v)", s)
		})
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			n := e.count(`SELECT count(*) FROM inbox WHERE source = 'demo-shopify' AND status <> 'applied'`)
			return n == 0, fmt.Sprintf("%d shopify rows not applied yet", n)
		})
		if n := e.count(`SELECT count(*) FROM stock_ledger WHERE sku = 'SH-5' AND cause = 'refund' AND delta_on_hand = 1`); n != 1 {
			t.Errorf("refund restock ledger rows = %d, want 1", n)
		}
		if n := e.count(`SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE provider = 'shopify' AND NOT failed`); n != 1000 {
			t.Errorf("shopify refunded = %d, want 1000 (one transaction, counted once)", n)
		}
	})
	t.Run("shopify dispute: lost before it was opened is charged_back, and stays so", func(t *testing.T) {
		shopifyDelivery(t, "order-d", "orders/create", shopifyOrder(5500, "SH-D", 1)).send(t, m)
		shopifyDelivery(t, "sale-d", "order_transactions/create", map[string]any{"id": 5600, "order_id": 5500, "kind": "sale", "status": "success",
			"amount": "10.00", "currency": "USD", "created_at": "2026-01-01T10:01:00Z"}).send(t, m)
		waitStatus("5500", "paid")
		dispute := func(status string) map[string]any {
			return map[string]any{"id": 5700, "order_id": 5500, "type": "chargeback", "amount": "10.00", "currency": "USD",
				"reason": "fraudulent", "network_reason_code": "4837", "status": status, "evidence_due_by": "2026-01-20T10:00:00Z",
				"evidence_sent_on": nil, "finalized_on": nil, "initiated_at": "2026-01-02T10:00:00Z"}
		}
		shopifyDelivery(t, "dispute-lost", "disputes/update", dispute("lost")).send(t, m)
		waitStatus("5500", "charged_back")
		shopifyDelivery(t, "dispute-created", "disputes/create", dispute("needs_response")).send(t, m)
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			n := e.count(`SELECT count(*) FROM inbox WHERE source = 'demo-shopify' AND event_type = 'disputes/create' AND status = 'applied'`)
			return n == 1, "disputes/create applied"
		})
		waitStatus("5500", "charged_back")
	})
	t.Run("square dispute: created is disputed, LOST is charged_back", func(t *testing.T) {
		sim := func(typ, id string) signedDelivery {
			return simDelivery(t, sources, "demo-square", typ, id, "SQ-D1", 3000, "USD")
		}
		sim("payment.updated", "sq-d1-pay").send(t, m)
		waitStatus("SQ-D1", "paid")
		sim("dispute.created", "sq-d1-dc").send(t, m)
		waitStatus("SQ-D1", "disputed")
		sim("dispute.state.updated", "sq-d1-lost").send(t, m)
		waitStatus("SQ-D1", "charged_back")
	})
	t.Run("paypal: a dispute under review is disputed, resolved for the seller is paid again; a reversal is charged_back", func(t *testing.T) {
		sim := func(typ, id, ref string) signedDelivery {
			return simDelivery(t, sources, "demo-paypal", typ, id, ref, 250000, "HUF")
		}
		sim("PAYMENT.CAPTURE.COMPLETED", "pp-d1-cap", "PP-D1").send(t, m)
		waitStatus("PP-D1", "paid")
		sim("CUSTOMER.DISPUTE.UPDATED", "pp-d1-du", "PP-D1").send(t, m)
		waitStatus("PP-D1", "disputed")
		sim("CUSTOMER.DISPUTE.RESOLVED", "pp-d1-dr", "PP-D1").send(t, m)
		waitStatus("PP-D1", "paid")

		sim("PAYMENT.CAPTURE.COMPLETED", "pp-d2-cap", "PP-D2").send(t, m)
		waitStatus("PP-D2", "paid")
		sim("PAYMENT.CAPTURE.REVERSED", "pp-d2-rev", "PP-D2").send(t, m)
		waitStatus("PP-D2", "charged_back")
		if o, _ := getOrder(t, m, "PP-D2"); o.Currency != "HUF" {
			t.Errorf("currency = %q, want HUF", o.Currency)
		}
	})
	t.Run("paypal: a reversal naming only its capture charges the capture's order back; a lost dispute and its reversal count once", func(t *testing.T) {
		capture := simDelivery(t, sources, "demo-paypal", "PAYMENT.CAPTURE.COMPLETED", "pp-r1-cap", "PP-R1", 251, "USD")
		var c struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
		}
		if err := json.Unmarshal(capture.req.Body, &c); err != nil || c.Resource.ID == "" {
			t.Fatalf("capture id: %v", err)
		}
		capture.send(t, m)
		waitStatus("PP-R1", "paid")
		// PayPal's published samples, about this capture: the reversal names nothing else
		// (no custom_id, no order id), the dispute is resolved for the buyer.
		sample := func(name, file string, r *strings.Replacer) signedDelivery {
			body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "paypal", file))
			if err != nil {
				t.Fatal(err)
			}
			req, err := paypal.SignSimulated(sources["demo-paypal"], []byte(r.Replace(string(body))), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return signedDelivery{name, "demo-paypal", req}
		}
		sample("reversed", "paypal_docs_PAYMENT.CAPTURE.REVERSED.body.json",
			strings.NewReplacer("4L335234718889942", c.Resource.ID, "WH-6F207351SC284371F-0KX52201050121307", "WH-PP-R1-REVERSED")).send(t, m)
		waitStatus("PP-R1", "charged_back")
		sample("lost", "paypal_docs_CUSTOMER.DISPUTE.RESOLVED.body.json",
			strings.NewReplacer("00D10444LD479031K", c.Resource.ID, "WH-6SA34813406280445-6M160383LS6155516", "WH-PP-R1-LOST",
				`"outcome_code": "CANCELED_BY_BUYER"`, `"outcome_code": "RESOLVED_BUYER_FAVOUR"`, `"value": "3.00"`, `"value": "2.51"`)).send(t, m)
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			n := e.count(`SELECT count(*) FROM applied_events WHERE event_id = 'WH-PP-R1-LOST'`)
			return n == 1, "the lost dispute applied"
		})
		if n := e.count(`SELECT COALESCE(SUM(amount), 0) FROM disputes WHERE provider = 'paypal' AND payment_ref = $1 AND outcome = 'lost'`, c.Resource.ID); n != 251 {
			t.Errorf("charged back %d, want 251: the lost dispute and the reversal it caused are one fact", n)
		}
		waitStatus("PP-R1", "charged_back")
	})
	t.Run("woocommerce: a refund made by hand in the admin counts, keyed by its id", func(t *testing.T) {
		order := func(modified string, refunds []any) map[string]any {
			return map[string]any{"id": 9100, "status": "processing", "currency": "USD", "total": "40.00", "payment_method": "stripe",
				"date_modified_gmt": modified, "customer_id": 0, "refunds": refunds,
				"line_items": []any{map[string]any{"product_id": 1, "variation_id": 0, "quantity": 1, "subtotal": "40.00", "price": 40, "sku": "WOO-9"}}}
		}
		wooDelivery(t, "order", "order.created", order("2026-01-01T10:00:00", []any{})).send(t, m)
		stripeDelivery(t, "pi", "evt_w9_pi", "payment_intent.succeeded", piObject("pi_W9", "9100", 4000)).send(t, m)
		waitStatus("9100", "paid")
		manual := map[string]any{"id": 9101, "reason": "goodwill", "total": "-5.00", "refunded_payment": false}
		viaGateway := map[string]any{"id": 9102, "reason": "", "total": "-7.00", "refunded_payment": true}
		wooDelivery(t, "refunded", "order.updated", order("2026-01-01T11:00:00", []any{manual, viaGateway})).send(t, m)
		waitStatus("9100", "partially_refunded")
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			n := e.count(`SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE provider = 'woocommerce'`)
			return n == 500, fmt.Sprintf("woocommerce refunds %d, want 500 (the manual one only: the gateway reports its own)", n)
		})
	})
	t.Run("bigcommerce: transactions and refunds fetched from the store API, product-level stock", func(t *testing.T) {
		store.PutOrder(bigcommerce.FakeOrder{ID: 8100, Lines: []bigcommerce.FakeLine{{ProductID: 1, VariantID: 2, SKU: "BC-8", Quantity: 1, UnitPrice: 4000}},
			Transactions: []bigcommerce.FakeTransaction{{ID: 81, Event: "purchase", Amount: 4000}}})
		order := map[string]any{"type": "order", "id": 8100}
		bigcommerceDelivery(t, "order", map[string]any{"scope": "store/order/created", "data": order, "hash": "h8100"}).send(t, m)
		// The transaction payload shares the order's hash, as in BigCommerce's examples.
		bigcommerceDelivery(t, "tx", map[string]any{"scope": "store/order/transaction/created",
			"data": map[string]any{"type": "transaction", "order_id": 8100, "transaction_id": "ch_81"}, "hash": "h8100"}).send(t, m)
		waitStatus("8100", "paid")
		store.PutOrder(bigcommerce.FakeOrder{ID: 8100, Lines: []bigcommerce.FakeLine{{ProductID: 1, VariantID: 2, SKU: "BC-8", Quantity: 1, UnitPrice: 4000}},
			Transactions: []bigcommerce.FakeTransaction{{ID: 81, Event: "purchase", Amount: 4000}, {ID: 82, Event: "refund", Amount: 1500}},
			Refunds:      []bigcommerce.FakeRefund{{ID: 9, Amount: 1500, Reason: "damaged"}}})
		refund := map[string]any{"type": "order", "id": 8100, "refund": map[string]any{"refund_id": 9}}
		bigcommerceDelivery(t, "refund", map[string]any{"scope": "store/order/refund/created", "data": refund, "hash": "h8100"}).send(t, m)
		waitStatus("8100", "partially_refunded")

		store.PutVariant(bigcommerce.FakeVariant{ProductID: 167, SKU: "BC-PRODUCT", InventoryLevel: 12})
		bigcommerceDelivery(t, "product-stock", map[string]any{"scope": "store/product/inventory/updated", "hash": "h167",
			"data": map[string]any{"type": "product", "id": 167, "inventory": map[string]any{"product_id": 167, "method": "absolute", "value": 12}}}).send(t, m)
		var s stockView
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			return apiGet(t, m, "inventory/BC-PRODUCT", &s) == http.StatusOK && s.OnHand == 12, fmt.Sprintf("BC-PRODUCT on hand 12 (now %+v)", s)
		})
	})
}

// TestShuffledMoneyFactsConverge: a Shopify order paid through Stripe, a Stripe refund
// that then fails, a Shopify partial refund restocking a unit, and a Stripe dispute that
// is lost, sent once in their natural order for one order and shuffled with duplicates
// for another, end in the same order and stock.
func TestShuffledMoneyFactsConverge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, sources := demoSources(t, nil)
	m := e.startWith(sources)
	logUnapplied(t, e)
	flow := func(orderID int64, sku string) []signedDelivery {
		ref := fmt.Sprint(orderID)
		pi := "pi_" + ref
		return []signedDelivery{
			shopifyDelivery(t, ref+"-order", "orders/create", shopifyOrder(orderID, sku, 3)),
			stripeDelivery(t, ref+"-pi", "evt_"+ref+"_pi", "payment_intent.succeeded", piObject(pi, ref, 3000)),
			stripeDelivery(t, ref+"-refund", "evt_"+ref+"_rc", "refund.created", refundObject("re_"+ref, pi, "pending", 500)),
			stripeDelivery(t, ref+"-refund-failed", "evt_"+ref+"_rf", "refund.failed", refundObject("re_"+ref, pi, "failed", 500)),
			shopifyDelivery(t, ref+"-restock", "refunds/create", shopifyRefund(orderID+100, orderID, sku)),
			stripeDelivery(t, ref+"-dispute", "evt_"+ref+"_dc", "charge.dispute.created", disputeObject("dp_"+ref, pi, "needs_response", 3000)),
			stripeDelivery(t, ref+"-lost", "evt_"+ref+"_dl", "charge.dispute.closed", disputeObject("dp_"+ref, pi, "lost", 3000)),
		}
	}
	for _, sku := range []string{"CV-A", "CV-B"} {
		if code := api(t, m, http.MethodPut, "/api/v1/inventory/"+sku, map[string]int{"on_hand": 10}, nil); code != http.StatusOK {
			t.Fatalf("PUT inventory %s = %d", sku, code)
		}
	}
	applied := func(n int) {
		testenv.Eventually(t, 20*time.Second, func() (bool, string) {
			got := e.count(`SELECT count(*) FROM inbox WHERE status = 'applied'`)
			return got == n, fmt.Sprintf("%d of %d inbox rows applied", got, n)
		})
	}
	canonical := flow(6000, "CV-A")
	for i, d := range canonical {
		d.send(t, m)
		applied(i + 1)
	}

	shuffled := flow(7000, "CV-B")
	rnd := rand.New(rand.NewPCG(14, 6))
	sends := append([]signedDelivery{}, shuffled...)
	for range 4 {
		sends = append(sends, shuffled[rnd.IntN(len(shuffled))]) // duplicates: the same bytes again
	}
	rnd.Shuffle(len(sends), func(i, j int) { sends[i], sends[j] = sends[j], sends[i] })
	for _, d := range sends {
		d.send(t, m)
	}
	applied(len(canonical) + len(shuffled))

	read := func(ref, sku string) (fullOrder, stockView) {
		var o fullOrder
		var s stockView
		if apiGet(t, m, "orders/"+ref, &o) != http.StatusOK || apiGet(t, m, "inventory/"+sku, &s) != http.StatusOK {
			t.Fatalf("order %s or SKU %s not found", ref, sku)
		}
		o.Ref, o.Lines = "", nil
		return o, s
	}
	wantO, wantS := read("6000", "CV-A")
	if wantO.PaymentStatus != "charged_back" || wantS.OnHand != 8 {
		t.Errorf("canonical order %+v, stock %+v: want charged_back with one of three units back (on_hand 8)", wantO, wantS)
	}
	gotO, gotS := read("7000", "CV-B")
	if diff := cmp.Diff([]any{wantO, wantS}, []any{gotO, gotS}); diff != "" {
		t.Errorf("shuffled and duplicated flow differs from the canonical order (-canonical +shuffled):\n%s", diff)
	}
}

// logUnapplied names, when the test failed, the inbox rows that were not applied and why.
func logUnapplied(t *testing.T, e *env) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var rows []struct {
			Source    string `db:"source"`
			EventType string `db:"event_type"`
			Status    string `db:"status"`
			LastError string `db:"last_error"`
		}
		_ = e.db.Select(&rows, `SELECT source, event_type, status, last_error FROM inbox WHERE status <> 'applied' ORDER BY id`)
		for _, r := range rows {
			t.Logf("inbox row not applied: %+v", r)
		}
		var facts []string
		_ = e.db.Select(&facts, `SELECT 'payment ' || provider || ' ' || ref || ' order ' || COALESCE(order_ref, '-') || ' captured ' || captured FROM payments
			UNION ALL SELECT 'refund ' || ref || ' of ' || payment_ref || ' ' || amount || ' failed ' || failed FROM refunds
			UNION ALL SELECT 'applied ' || event_id || ' ' || outcome || ' order ' || COALESCE(order_ref, '-') FROM applied_events`)
		for _, f := range facts {
			t.Log(f)
		}
	})
}
