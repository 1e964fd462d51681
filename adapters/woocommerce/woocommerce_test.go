package woocommerce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/adapters/woocommerce"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/woocommerce"

var src = domain.Source{ID: "acme-woo", Provider: woocommerce.Kind, Secrets: []string{"wc_tradewind_test_secret"}}

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

// TestKnownAnswerVector checks WooCommerce's own vector (an empty secret, so only the
// signing function: Verify fails closed on an empty secret) and the derived vectors.
func TestKnownAnswerVector(t *testing.T) {
	var kat struct {
		Secret   string `json:"secret"`
		Body     string `json:"raw_body"`
		Expected string `json:"expected"`
	}
	if err := json.Unmarshal(read(t, "kat_wc_crud_test.json"), &kat); err != nil {
		t.Fatal(err)
	}
	if got := woocommerce.Sign(kat.Secret, []byte(kat.Body)); got != kat.Expected {
		t.Fatalf("Sign(WooCommerce vector) = %q, want %q", got, kat.Expected)
	}
	for i := range kat.Body {
		b := []byte(kat.Body)
		b[i] ^= 0x20
		if woocommerce.Sign(kat.Secret, b) == kat.Expected {
			t.Fatalf("Sign gives the vector's signature with byte %d changed", i)
		}
	}
	h := http.Header{}
	h.Set(woocommerce.SignatureHeader, kat.Expected)
	empty := domain.Source{ID: "kat", Secrets: []string{kat.Secret}}
	if err := (woocommerce.Provider{}).Verify(context.Background(), empty, domain.Delivery{Header: h, Body: []byte(kat.Body)}); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("Verify with an empty secret = %v, want %s (fail closed)", err, domain.EUNAUTHORIZED)
	}

	var derived struct {
		BodyFile string `json:"body_file"`
		Vectors  []struct {
			Name      string `json:"name"`
			Secret    string `json:"secret"`
			Signature string `json:"X-WC-Webhook-Signature"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(read(t, "derived_kat_woocommerce.json"), &derived); err != nil {
		t.Fatal(err)
	}
	body := read(t, derived.BodyFile)
	for _, v := range derived.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			s := domain.Source{ID: "kat", Secrets: []string{v.Secret}}
			h := http.Header{}
			h.Set(woocommerce.SignatureHeader, v.Signature)
			d := domain.Delivery{Header: h, Body: body, ReceivedAt: time.Now()}
			p := woocommerce.Provider{}
			if err := p.Verify(context.Background(), s, d); err != nil {
				t.Fatalf("Verify(vector) = %v", err)
			}
			if got := woocommerce.Sign(v.Secret, body); got != v.Signature {
				t.Errorf("Sign = %q, want %q", got, v.Signature)
			}
			for i := range body {
				bad := d
				bad.Body = bytes.Clone(body)
				bad.Body[i] ^= 0x20
				if err := p.Verify(context.Background(), s, bad); err == nil {
					t.Fatalf("Verify accepted the vector with byte %d changed", i)
				}
			}
		})
	}
}

func TestCreationPing(t *testing.T) {
	p := woocommerce.Provider{}
	tests := []struct {
		name   string
		body   string
		accept bool
	}{
		{"the ping", "webhook_id=17", true},
		{"a 19-digit id", "webhook_id=1234567890123456789", true},
		{"no id", "webhook_id=", false},
		{"a 20-digit id", "webhook_id=12345678901234567890", false},
		{"trailing newline", "webhook_id=17\n", false},
		{"leading space", " webhook_id=17", false},
		{"a second field", "webhook_id=17&status=active", false},
		{"not digits", "webhook_id=17a", false},
		{"negative", "webhook_id=-17", false},
		{"other key", "webhook=17", false},
		{"an order", string(read(t, "wc_rest_docs_v3_order_727.json")), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			d := domain.Delivery{Header: h, Body: []byte(tt.body), ReceivedAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
			for _, s := range []domain.Source{src, {ID: "no-secrets"}} {
				err := p.Verify(context.Background(), s, d)
				if !tt.accept {
					if domain.ErrorCode(err) != domain.EUNAUTHORIZED {
						t.Fatalf("Verify(unsigned %q) = %v, want %s", tt.body, err, domain.EUNAUTHORIZED)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Verify(ping) = %v", err)
				}
				msgs, err := p.Parse(s, d)
				if err != nil || len(msgs) != 1 {
					t.Fatalf("Parse(ping) = %v, %v", msgs, err)
				}
				m := msgs[0]
				if m.Type != woocommerce.TypePing || m.ID != "ping:"+strings.TrimPrefix(tt.body, "webhook_id=") || p.Handles(m.Type) {
					t.Fatalf("ping message = %+v (handled %v); want an unhandled ping", m, p.Handles(m.Type))
				}
				if evs, err := p.Normalize(s, m); err != nil || len(evs) != 0 {
					t.Fatalf("Normalize(ping) = %v, %v; want nothing", evs, err)
				}
			}
		})
	}
	t.Run("a ping-shaped body with a wrong signature", func(t *testing.T) {
		h := http.Header{}
		h.Set(woocommerce.SignatureHeader, "AAAA")
		if err := p.Verify(context.Background(), src, domain.Delivery{Header: h, Body: []byte("webhook_id=17")}); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
			t.Fatalf("Verify = %v, want %s", err, domain.EUNAUTHORIZED)
		}
	})
	t.Run("the simulator's ping", func(t *testing.T) {
		r, err := p.Sample(src, woocommerce.TypePing, webhook.SampleOptions{EventID: "e1"})
		if err != nil || !woocommerce.IsPing(r.Body) || r.Header.Get(woocommerce.SignatureHeader) != "" {
			t.Fatalf("Sample(ping) = %q, %v; want an unsigned ping", r.Body, err)
		}
	})
}

func TestContract(t *testing.T) {
	webhooktest.Contract(t, woocommerce.Provider{}, webhooktest.Options{Source: src, OtherSecret: "wc_other_secret"})
}

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, woocommerce.Provider{}, webhooktest.Options{Source: src})
}

// FuzzUnsignedOnlyPing is the unsigned half that webhooktest.Fuzz cannot express (its
// seeds are all signed): with no signature header, arbitrary bodies must be rejected
// unless they are exactly the creation ping, and a ping must parse into one unhandled
// message that normalizes to nothing.
func FuzzUnsignedOnlyPing(f *testing.F) {
	for _, typ := range (woocommerce.Provider{}).SampleTypes() {
		r, err := woocommerce.Provider{}.Sample(src, typ, webhook.SampleOptions{OrderRef: "1001", Now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r.Body)
	}
	f.Add([]byte("webhook_id=17"))
	f.Add([]byte("webhook_id=17&x=1"))
	p := woocommerce.Provider{}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := domain.Delivery{Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: body, ReceivedAt: time.Now()}
		err := p.Verify(context.Background(), src, d)
		msgs, perr := p.Parse(src, d)
		if err != nil {
			if domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Fatalf("Verify(unsigned) = %v, want %s", err, domain.EUNAUTHORIZED)
			}
			return
		}
		if !woocommerce.IsPing(body) {
			t.Fatalf("an unsigned body other than the ping verified: %q", body)
		}
		if perr != nil || len(msgs) != 1 || msgs[0].Type != woocommerce.TypePing || p.Handles(msgs[0].Type) {
			t.Fatalf("Parse(ping %q) = %+v, %v; want one unhandled ping", body, msgs, perr)
		}
		if evs, err := p.Normalize(src, msgs[0]); err != nil || len(evs) != 0 {
			t.Fatalf("Normalize(ping) = %v, %v", evs, err)
		}
	})
}

func TestCheckSource(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		wantKey string
	}{
		{"valid", []string{"s"}, ""},
		{"no secrets", nil, "secrets:"},
		{"empty secret", []string{"s", ""}, "secrets[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := woocommerce.Provider{}.CheckSource(domain.Source{ID: "s", Secrets: tt.secrets})
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("CheckSource = %v", err)
				}
				return
			}
			if domain.ErrorCode(err) != domain.EINVALID || !strings.HasPrefix(domain.ErrorMessage(err), tt.wantKey) {
				t.Fatalf("CheckSource = %v, want %s starting with %q", err, domain.EINVALID, tt.wantKey)
			}
		})
	}
}

// delivery signs body as a WooCommerce delivery of topic from webhook 12.
func delivery(t *testing.T, topic string, body []byte) domain.Delivery {
	t.Helper()
	resource, event, _ := strings.Cut(topic, ".")
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(woocommerce.TopicHeader, topic)
	h.Set(woocommerce.ResourceHeader, resource)
	h.Set(woocommerce.EventHeader, event)
	h.Set(woocommerce.IDHeader, "12")
	h.Set(woocommerce.DeliveryIDHeader, "5c1f6a6f1d2b3e4a5c1f6a6f1d2b3e4a")
	h.Set(woocommerce.SourceHeader, "https://example.com/")
	h.Set(woocommerce.SignatureHeader, woocommerce.Sign(src.Secrets[0], body))
	d := domain.Delivery{Header: h, Body: body, ReceivedAt: time.Date(2017, 3, 22, 19, 30, 0, 0, time.UTC)}
	if err := (woocommerce.Provider{}).Verify(context.Background(), src, d); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	return d
}

func TestGolden(t *testing.T) {
	order := read(t, "wc_rest_docs_v3_order_727.json")
	completed := bytes.Replace(order, []byte(`"status": "processing"`), []byte(`"status": "completed"`), 1)
	tests := []struct {
		name, topic string
		body        []byte
	}{
		{"order_created", woocommerce.TopicOrderCreated, order},
		{"order_updated", woocommerce.TopicOrderUpdated, order},
		{"order_updated_completed", woocommerce.TopicOrderUpdated, completed},
		{"order_restored", woocommerce.TopicOrderRestored, order},
		{"order_deleted", woocommerce.TopicOrderDeleted, []byte(`{"id":727}`)},
		{"product_updated", woocommerce.TopicProductUpdated, read(t, "product_updated.body.json")},
		{"customer_updated", woocommerce.TopicCustomerUpdated, read(t, "customer_updated.body.json")},
		{"customer_deleted_ignored", "customer.deleted", []byte(`{"id":25}`)},
		// The docs order (paid by bacs, offline) with a refund made by hand, in the shape
		// an order body lists refunds: it counts, keyed by the refund id.
		{"order_updated_manual_refund", woocommerce.TopicOrderUpdated, bytes.Replace(order, []byte(`"refunds": [],`),
			[]byte(`"refunds": [{"id": 726, "reason": "Damaged", "total": "-5.00"}],`), 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := webhooktest.NormalizeAll(t, woocommerce.Provider{}, src, delivery(t, tt.topic, tt.body))
			webhooktest.Golden(t, filepath.Join(testdata, tt.name+".golden.json"), got)
		})
	}
}

func TestDedupeKey(t *testing.T) {
	order := read(t, "wc_rest_docs_v3_order_727.json")
	tests := []struct {
		name, topic string
		body        []byte
		dropHeader  string
		want        string // the key, or the error text
		wantErr     bool
	}{
		{"order", woocommerce.TopicOrderUpdated, order, "", "12:727:2017-03-22T19:28:08", false},
		{"deleted order", woocommerce.TopicOrderDeleted, []byte(`{"id":727}`), "", "12:727:delivery:5c1f6a6f1d2b3e4a5c1f6a6f1d2b3e4a", false},
		{"custom action topic", "action.woocommerce_add_to_cart", []byte(`{"action":"woocommerce_add_to_cart","arg":"x"}`), "", "12:0:delivery:5c1f6a6f1d2b3e4a5c1f6a6f1d2b3e4a", false},
		{"nothing to key on", woocommerce.TopicOrderDeleted, []byte(`{"id":727}`), woocommerce.DeliveryIDHeader, "nothing to dedupe on", true},
		{"no webhook id", woocommerce.TopicOrderUpdated, order, woocommerce.IDHeader, "X-WC-Webhook-ID", true},
		{"no topic", woocommerce.TopicOrderUpdated, order, woocommerce.TopicHeader, "X-WC-Webhook-Topic", true},
		{"legacy payload", woocommerce.TopicOrderUpdated, []byte(`{"order":{"id":727,"updated_at":"2017-03-22T19:28:08Z"}}`), "", "WP REST API Integration v3", true},
		{"not JSON", woocommerce.TopicOrderUpdated, []byte(`id=727`), "", "not a WooCommerce JSON payload", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := delivery(t, tt.topic, tt.body)
			if tt.dropHeader != "" {
				d.Header.Del(tt.dropHeader)
			}
			msgs, err := woocommerce.Provider{}.Parse(src, d)
			if tt.wantErr {
				if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Parse = %v, %v; want %s mentioning %q", msgs, err, domain.EINVALID, tt.want)
				}
				return
			}
			if err != nil || len(msgs) != 1 || msgs[0].ID != tt.want {
				t.Fatalf("Parse = %+v, %v; want one message keyed %q", msgs, err, tt.want)
			}
		})
	}
}

func TestOrderStatusTable(t *testing.T) {
	order := read(t, "wc_rest_docs_v3_order_727.json")
	tests := []struct {
		status string
		typ    domain.EventType
		want   domain.OrderStatus
	}{
		{"pending", domain.OrderUpdated, domain.StatusPlaced},
		{"processing", domain.OrderUpdated, domain.StatusPlaced},
		{"on-hold", domain.OrderUpdated, domain.StatusPlaced},
		{"completed", domain.OrderFulfilled, domain.StatusFulfilled},
		{"cancelled", domain.OrderCancelled, domain.StatusCancelled},
		{"refunded", domain.OrderCancelled, domain.StatusCancelled},
		{"failed", domain.OrderCancelled, domain.StatusCancelled},
		{"trash", domain.OrderCancelled, domain.StatusCancelled},
		{"awaiting-shipment", domain.OrderUpdated, domain.StatusPlaced},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			body := bytes.Replace(order, []byte(`"status": "processing"`), []byte(`"status": "`+tt.status+`"`), 1)
			evs := webhooktest.NormalizeAll(t, woocommerce.Provider{}, src, delivery(t, woocommerce.TopicOrderUpdated, body))
			if len(evs) != 1 || evs[0].Type != tt.typ || evs[0].Order.Status != tt.want {
				t.Fatalf("events = %+v, want one %s with status %s", evs, tt.typ, tt.want)
			}
		})
	}
}

func TestLinePrices(t *testing.T) {
	tests := []struct {
		name string
		line string
		want domain.Line
	}{
		{"subtotal divides", `{"product_id":5,"variation_id":0,"quantity":3,"subtotal":"30.00","price":9.5,"sku":"A"}`, domain.Line{SKU: "A", Quantity: 3, UnitPrice: 1000}},
		{"falls back to price", `{"product_id":5,"variation_id":0,"quantity":3,"subtotal":"10.00","price":3.25,"sku":"A"}`, domain.Line{SKU: "A", Quantity: 3, UnitPrice: 325}},
		{"variation without sku", `{"product_id":5,"variation_id":6,"quantity":1,"subtotal":"1.00","price":1,"sku":""}`, domain.Line{SKU: "woo-product:6", Quantity: 1, UnitPrice: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"id":1,"status":"processing","currency":"USD","total":"1.00","date_modified_gmt":"2017-03-22T19:28:08","line_items":[` + tt.line + `]}`
			evs := webhooktest.NormalizeAll(t, woocommerce.Provider{}, src, delivery(t, woocommerce.TopicOrderUpdated, []byte(body)))
			if diff := cmp.Diff([]domain.Line{tt.want}, evs[0].Order.Lines); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("neither is exact", func(t *testing.T) {
		body := `{"id":1,"status":"processing","currency":"USD","total":"10.00","date_modified_gmt":"2017-03-22T19:28:08","line_items":[{"product_id":5,"quantity":3,"subtotal":"10.00","price":3.3333333333,"sku":"A"}]}`
		p := woocommerce.Provider{}
		msgs, _ := p.Parse(src, delivery(t, woocommerce.TopicOrderUpdated, []byte(body)))
		if _, err := p.Normalize(src, msgs[0]); domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("Normalize = %v, want %s (money is never rounded)", err, domain.EINVALID)
		}
	})
}

func TestProductStock(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []domain.StockLevel
	}{
		{"managed", `{"id":794,"sku":"PQ-19","manage_stock":true,"stock_quantity":12,"date_modified_gmt":"2017-03-23T20:01:14"}`, []domain.StockLevel{{SKU: "PQ-19", OnHand: 12}}},
		{"no sku", `{"id":794,"sku":"","manage_stock":true,"stock_quantity":0,"date_modified_gmt":"2017-03-23T20:01:14"}`, []domain.StockLevel{{SKU: "woo-product:794", OnHand: 0}}},
		{"backordered", `{"id":794,"sku":"PQ-19","manage_stock":true,"stock_quantity":-2,"date_modified_gmt":"2017-03-23T20:01:14"}`, []domain.StockLevel{{SKU: "PQ-19", OnHand: -2}}},
		{"not managed", `{"id":794,"sku":"PQ-19","manage_stock":false,"stock_quantity":null,"date_modified_gmt":"2017-03-23T20:01:14"}`, nil},
		{"variation managed by its parent", `{"id":795,"sku":"PQ-19-S","manage_stock":"parent","stock_quantity":12,"date_modified_gmt":"2017-03-23T20:01:14"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := webhooktest.NormalizeAll(t, woocommerce.Provider{}, src, delivery(t, woocommerce.TopicProductUpdated, []byte(tt.body)))
			var got []domain.StockLevel
			for _, e := range evs {
				got = append(got, *e.Stock)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stock (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFactsComeFromTheSignedBodyNotTheTopic: WooCommerce signs the body only; the topic
// and the ids in X-WC-Webhook-* headers can be changed by whoever resends a genuine body.
func TestFactsComeFromTheSignedBodyNotTheTopic(t *testing.T) {
	order := read(t, "wc_rest_docs_v3_order_727.json") // status processing
	tests := []struct {
		name  string
		topic string
		body  []byte
		want  []domain.EventType
	}{
		{"order body as order.deleted: no cancel", woocommerce.TopicOrderDeleted, order, nil},
		{"customer body as order.deleted: no cancel", woocommerce.TopicOrderDeleted, read(t, "customer_updated.body.json"), nil},
		{"order body as customer.updated: no customer", woocommerce.TopicCustomerUpdated, order, nil},
		{"product body as customer.created: no customer", woocommerce.TopicCustomerCreated, read(t, "product_updated.body.json"), nil},
		{"order body as product.updated: no stock", woocommerce.TopicProductUpdated, order, nil},
		// The deletion body names no resource: a customer.deleted body is the same, so
		// only the unsigned topic would say "order". Ignored.
		{"a deletion body: no cancel (its resource is named only by the unsigned topic)", woocommerce.TopicOrderDeleted, []byte(`{"id":727}`), nil},
		{"order body as order.updated: the body's status", woocommerce.TopicOrderUpdated, order, []domain.EventType{domain.OrderUpdated}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := webhooktest.NormalizeAll(t, woocommerce.Provider{}, src, delivery(t, tt.topic, tt.body))
			var got []domain.EventType
			for _, e := range evs {
				got = append(got, e.Type)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("event types (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("same body under other header ids yields the same event ids", func(t *testing.T) {
		for _, tc := range []struct {
			topic string
			body  []byte
		}{{woocommerce.TopicOrderUpdated, order}, {woocommerce.TopicProductUpdated, read(t, "product_updated.body.json")}} {
			first := webhooktest.NormalizeAll(t, woocommerce.Provider{}, src, delivery(t, tc.topic, tc.body))
			d := delivery(t, tc.topic, tc.body)
			d.Header.Set(woocommerce.IDHeader, "99")
			d.Header.Set(woocommerce.DeliveryIDHeader, "ffffffffffffffffffffffffffffffff")
			again := webhooktest.NormalizeAll(t, woocommerce.Provider{}, src, d)
			if len(first) != 1 || len(again) != 1 || first[0].EventID != again[0].EventID {
				t.Errorf("%s: event ids %v then %v under new header ids, want one and the same", tc.topic, first, again)
			}
		}
	})
}

// TestRefundsSetting: which refunds an order lists count, by the source's refunds setting
// and the order's payment method.
func TestRefundsSetting(t *testing.T) {
	order := read(t, "wc_rest_docs_v3_order_727.json")
	body := func(method, refunds string) []byte {
		b := bytes.Replace(order, []byte(`"refunds": [],`), []byte(`"refunds": `+refunds+`,`), 1)
		return bytes.Replace(b, []byte(`"payment_method": "bacs"`), []byte(`"payment_method": "`+method+`"`), 1)
	}
	two := `[{"id": 1, "reason": "", "total": "-1.00"}, {"id": 2, "reason": "", "total": "-2.50", "refunded_payment": false}]`
	tests := []struct {
		name, setting, method string
		want                  []string
	}{
		{"offline order: every refund is manual", "", "bacs", []string{"refund:1=100", "refund:2=250"}},
		{"gateway order: only refunds marked refunded_payment false", "", "stripe", []string{"refund:2=250"}},
		{"all", "all", "stripe", []string{"refund:1=100", "refund:2=250"}},
		{"none", "none", "bacs", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := src
			s.Settings = map[string]string{"refunds": tt.setting}
			var got []string
			for _, e := range webhooktest.NormalizeAll(t, woocommerce.Provider{}, s, delivery(t, woocommerce.TopicOrderUpdated, body(tt.method, two))) {
				if e.Type == domain.PaymentRefunded {
					got = append(got, fmt.Sprintf("%s=%d", e.Payment.RefundRef, e.Payment.Amount))
					if e.PaymentRef != "woo:727" || e.OrderRef != "727" || e.Payment.Currency != "USD" {
						t.Errorf("refund event %+v, want payment woo:727 of order 727 in USD", e)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("refunds counted (-want +got):\n%s", diff)
			}
		})
	}
	bad := src
	bad.Settings = map[string]string{"refunds": "some"}
	if err := (woocommerce.Provider{}).CheckSource(bad); domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("CheckSource(refunds: some) = %v, want EINVALID", err)
	}
}
