package bigcommerce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/bigcommerce"
	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/bigcommerce"

const token = "tok_test_access"

func source(apiBase string) domain.Source {
	return domain.Source{
		ID: "acme-bc", Provider: bigcommerce.Kind, Secrets: []string{"bc_client_secret_test"},
		Settings: map[string]string{"store_hash": "abc123", "access_token": token, "api_base_url": apiBase},
	}
}

var src = source("https://api.bigcommerce.com")

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

// sign delivers body signed with the Standard Webhooks scheme under the source's client secret.
func sign(t *testing.T, s domain.Source, body []byte, at time.Time) domain.Delivery {
	t.Helper()
	h := http.Header{}
	stdwebhooks.SetHeaders(h, []byte(s.Secrets[0]), "msg_"+strconv.FormatInt(at.Unix(), 10), at.Unix(), body)
	return domain.Delivery{Header: h, Body: body, ReceivedAt: at}
}

// TestKnownAnswerVector runs the Standard Webhooks reference vector through BigCommerce's
// Verify (a whsec_ secret is decoded as the standard says): BigCommerce publishes none.
func TestKnownAnswerVector(t *testing.T) {
	var k struct {
		Secret    string `json:"secret"`
		ID        string `json:"webhook-id"`
		Timestamp string `json:"webhook-timestamp"`
		Body      string `json:"raw_body"`
		Signature string `json:"webhook-signature"`
	}
	if err := json.Unmarshal(read(t, "../standardwebhooks/kat_standard_webhooks.json"), &k); err != nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(k.Timestamp, 10, 64)
	h := http.Header{}
	h.Set("webhook-id", k.ID)
	h.Set("webhook-timestamp", k.Timestamp)
	h.Set("webhook-signature", k.Signature)
	s := domain.Source{ID: "kat", Secrets: []string{k.Secret}}
	d := domain.Delivery{Header: h, Body: []byte(k.Body), ReceivedAt: time.Unix(ts, 0)}
	p := bigcommerce.Provider{}
	if err := p.Verify(context.Background(), s, d); err != nil {
		t.Fatalf("Verify(vector) = %v", err)
	}
	for i := range d.Body {
		bad := d
		bad.Body = []byte(k.Body)
		bad.Body[i] ^= 0x20
		if err := p.Verify(context.Background(), s, bad); err == nil {
			t.Fatalf("Verify accepted the vector with byte %d changed", i)
		}
	}
	late := d
	late.ReceivedAt = d.ReceivedAt.Add(301 * time.Second)
	if err := p.Verify(context.Background(), s, late); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("Verify 301 s after signing = %v, want %s", err, domain.EUNAUTHORIZED)
	}
}

// TestClientSecretIsRawKey pins the key of a plain (non-whsec_) secret: its bytes as they are.
func TestClientSecretIsRawKey(t *testing.T) {
	at := time.Unix(1561479335, 0)
	body := read(t, "bc_docs_store_order_created.json")
	d := sign(t, src, body, at)
	if err := (bigcommerce.Provider{}).Verify(context.Background(), src, d); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	// The same signature is not accepted when the client secret is taken as base64.
	asStandard := src
	asStandard.Secrets = []string{"whsec_" + src.Secrets[0]}
	if err := (bigcommerce.Provider{}).Verify(context.Background(), asStandard, d); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("Verify with the secret read as base64 = %v, want %s", err, domain.EUNAUTHORIZED)
	}
}

func TestContract(t *testing.T) {
	webhooktest.Contract(t, bigcommerce.Provider{}, webhooktest.Options{Source: src, OtherSecret: "bc_other_client_secret", Timestamped: true})
}

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, bigcommerce.Provider{}, webhooktest.Options{Source: src})
}

func TestCheckSource(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*domain.Source)
		wantKey string
	}{
		{"valid", func(*domain.Source) {}, ""},
		{"default api_base_url", func(s *domain.Source) { delete(s.Settings, "api_base_url") }, ""},
		{"no secrets", func(s *domain.Source) { s.Secrets = nil }, "secrets:"},
		{"bad whsec secret", func(s *domain.Source) { s.Secrets = []string{"whsec_***"} }, "secrets[0]"},
		{"no store_hash", func(s *domain.Source) { delete(s.Settings, "store_hash") }, "store_hash:"},
		{"store_hash with a path", func(s *domain.Source) { s.Settings["store_hash"] = "stores/abc123" }, "store_hash:"},
		{"no access_token", func(s *domain.Source) { delete(s.Settings, "access_token") }, "access_token:"},
		{"api_base_url not a URL", func(s *domain.Source) { s.Settings["api_base_url"] = "api.bigcommerce.com" }, "api_base_url:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := source("https://api.bigcommerce.com")
			tt.edit(&s)
			err := bigcommerce.Provider{}.CheckSource(s)
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("CheckSource = %v", err)
				}
				return
			}
			if domain.ErrorCode(err) != domain.EINVALID || !strings.HasPrefix(domain.ErrorMessage(err), tt.wantKey) {
				t.Fatalf("CheckSource = %v, want %s starting with %q", err, domain.EINVALID, tt.wantKey)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "bc_client_secret_test") {
				t.Errorf("error %q contains a credential", err)
			}
		})
	}
}

// store is a fake BigCommerce store API serving the testdata resources.
type store struct {
	t        *testing.T
	status   int // when set, every request answers it
	products int // when set, order 250 has this many generated products
	calls    []string
}

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls = append(s.calls, r.URL.RequestURI())
	if r.Header.Get("X-Auth-Token") != token || r.Method != http.MethodGet {
		http.Error(w, `{"status":401,"title":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/stores/abc123/v2/orders/250":
		w.Write(read(s.t, "api_v2_order_250.json"))
	case "/stores/abc123/v2/orders/250/products":
		if s.products == 0 {
			if r.URL.Query().Get("page") != "1" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.Write(read(s.t, "api_v2_order_250_products.json"))
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		var items []map[string]any
		for i := (page - 1) * limit; i < page*limit && i < s.products; i++ {
			items = append(items, map[string]any{"product_id": 1, "variant_id": i + 1, "sku": fmt.Sprintf("GEN-%d", i), "quantity": 1, "price_ex_tax": "1.0000"})
		}
		if len(items) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		json.NewEncoder(w).Encode(items)
	case "/stores/abc123/v3/catalog/products/206/variants/509":
		w.Write(read(s.t, "api_v3_variant_206_509.json"))
	case "/stores/abc123/v3/catalog/products/167":
		w.Write(read(s.t, "api_v3_product_167.json"))
	case "/stores/abc123/v3/orders/250/transactions":
		w.Write(read(s.t, "api_v3_order_250_transactions.json"))
	case "/stores/abc123/v3/orders/250/payment_actions/refunds":
		w.Write(read(s.t, "api_v3_order_250_refunds.json"))
	default:
		http.Error(w, `{"status":404,"title":"Not Found"}`, http.StatusNotFound)
	}
}

func fakeStore(t *testing.T) (*store, domain.Source, bigcommerce.Provider) {
	s := &store{t: t}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	at := time.Date(2019, 6, 25, 16, 40, 0, 0, time.UTC)
	return s, source(srv.URL), bigcommerce.Provider{Client: srv.Client(), Now: func() time.Time { return at }}
}

// parse verifies and parses a signed fixture into its one message.
func parse(t *testing.T, p bigcommerce.Provider, s domain.Source, name string) domain.Message {
	t.Helper()
	body := read(t, name)
	var created struct {
		CreatedAt int64 `json:"created_at"`
	}
	_ = json.Unmarshal(body, &created)
	d := sign(t, s, body, time.Unix(created.CreatedAt, 0))
	if err := p.Verify(context.Background(), s, d); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	msgs, err := p.Parse(s, d)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Parse = %v, %v", msgs, err)
	}
	return msgs[0]
}

func TestGoldenThroughFetch(t *testing.T) {
	tests := []struct {
		name      string
		fixture   string
		wantCalls []string
	}{
		{"order_created", "bc_docs_store_order_created.json", []string{"/stores/abc123/v2/orders/250", "/stores/abc123/v2/orders/250/products?limit=250&page=1"}},
		{"order_statusUpdated", "bc_docs_store_order_statusUpdated.json", []string{"/stores/abc123/v2/orders/250", "/stores/abc123/v2/orders/250/products?limit=250&page=1"}},
		{"sku_inventory_updated", "bc_docs_store_sku_inventory_updated.json", []string{"/stores/abc123/v3/catalog/products/206/variants/509"}},
		{"product_inventory_updated", "bc_docs_store_product_inventory_updated.json", []string{"/stores/abc123/v3/catalog/products/167"}},
		{"transaction_created", "bc_docs_store_order_transaction_created.json", []string{"/stores/abc123/v2/orders/250", "/stores/abc123/v3/orders/250/transactions"}},
		{"refund_created", "bc_docs_store_order_refund_created.json", []string{"/stores/abc123/v2/orders/250", "/stores/abc123/v3/orders/250/payment_actions/refunds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, s, p := fakeStore(t)
			m := parse(t, p, s, tt.fixture)
			if !m.Unconfirmed {
				t.Error("a thin message is not marked Unconfirmed")
			}
			if _, err := p.Normalize(s, m); domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), "Fetch") {
				t.Errorf("Normalize(thin) = %v, want %s saying a fetch is required", err, domain.EINVALID)
			}
			full, err := p.Fetch(context.Background(), s, m)
			if err != nil {
				t.Fatalf("Fetch = %v", err)
			}
			if diff := cmp.Diff(tt.wantCalls, store.calls); diff != "" {
				t.Errorf("store API calls (-want +got):\n%s", diff)
			}
			if full.Unconfirmed || full.ID != m.ID || full.Type != m.Type {
				t.Errorf("Fetch = %+v, want the same message, completed", full)
			}
			// The thin payload's fields survive as sent.
			var thin, fetched map[string]json.RawMessage
			_ = json.Unmarshal(read(t, tt.fixture), &thin)
			if err := json.Unmarshal(full.Payload, &fetched); err != nil {
				t.Fatal(err)
			}
			for k, v := range thin {
				if diff := cmp.Diff(compact(t, v), compact(t, fetched[k])); diff != "" {
					t.Errorf("payload field %q changed (-want +got):\n%s", k, diff)
				}
			}
			evs, err := p.Normalize(s, full)
			if err != nil {
				t.Fatalf("Normalize(fetched) = %v", err)
			}
			webhooktest.Golden(t, filepath.Join(testdata, tt.name+".golden.json"), evs)
		})
	}
}

func compact(t *testing.T, raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestFetchErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"not found", http.StatusNotFound, domain.ENOTFOUND},
		{"token refused", http.StatusUnauthorized, domain.EUNAVAILABLE},
		{"forbidden", http.StatusForbidden, domain.EUNAVAILABLE},
		{"rate limited", http.StatusTooManyRequests, domain.EUNAVAILABLE},
		{"server error", http.StatusInternalServerError, domain.EUNAVAILABLE},
		{"bad gateway", http.StatusBadGateway, domain.EUNAVAILABLE},
		{"bad request", http.StatusBadRequest, domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, s, p := fakeStore(t)
			store.status = tt.status
			m := parse(t, p, s, "bc_docs_store_order_created.json")
			got, err := p.Fetch(context.Background(), s, m)
			if domain.ErrorCode(err) != tt.want {
				t.Fatalf("Fetch with HTTP %d = %v, want %s", tt.status, err, tt.want)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error %q contains the access token", err)
			}
			if !got.Unconfirmed {
				t.Error("a failed Fetch returned a completed message")
			}
		})
	}
	t.Run("deleted order", func(t *testing.T) {
		_, s, p := fakeStore(t)
		m := parse(t, p, s, "bc_docs_store_order_created.json")
		m.Payload = []byte(strings.Replace(string(m.Payload), `"id": 250`, `"id": 251`, 1))
		if _, err := p.Fetch(context.Background(), s, m); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("Fetch(unknown order) = %v, want %s", err, domain.ENOTFOUND)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		_, s, p := fakeStore(t)
		s.Settings["access_token"] = "tok_revoked"
		m := parse(t, p, s, "bc_docs_store_order_created.json")
		_, err := p.Fetch(context.Background(), s, m)
		if domain.ErrorCode(err) != domain.EUNAVAILABLE || !strings.Contains(err.Error(), "access_token") || strings.Contains(err.Error(), "tok_revoked") {
			t.Fatalf("Fetch with a refused token = %v, want %s naming access_token without its value", err, domain.EUNAVAILABLE)
		}
	})
	t.Run("network error", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		s := source(srv.URL)
		srv.Close()
		p := bigcommerce.Provider{}
		m := parse(t, p, s, "bc_docs_store_sku_inventory_updated.json")
		if _, err := p.Fetch(context.Background(), s, m); domain.ErrorCode(err) != domain.EUNAVAILABLE {
			t.Fatalf("Fetch from a closed server = %v, want %s", err, domain.EUNAVAILABLE)
		}
	})
	t.Run("unhandled scope is returned as it is", func(t *testing.T) {
		store, s, p := fakeStore(t)
		m := domain.Message{ID: "h", Type: "store/cart/created", Payload: []byte(`{"scope":"store/cart/created","hash":"h","data":{"type":"cart","id":"x"}}`)}
		got, err := p.Fetch(context.Background(), s, m)
		if err != nil || string(got.Payload) != string(m.Payload) || len(store.calls) != 0 {
			t.Fatalf("Fetch(unhandled) = %v, %v after %d calls; want it unchanged and no call", got, err, len(store.calls))
		}
	})
}

func TestFetchPaginatesProducts(t *testing.T) {
	store, s, p := fakeStore(t)
	store.products = 251
	m := parse(t, p, s, "bc_docs_store_order_created.json")
	full, err := p.Fetch(context.Background(), s, m)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := p.Normalize(s, full)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(evs[0].Order.Lines); n != 251 {
		t.Errorf("order has %d lines, want 251 (two pages)", n)
	}
	if n := len(store.calls); n != 3 {
		t.Errorf("store API calls = %v, want the order and two pages", store.calls)
	}
}

// fetchedOrder builds a fetched payload for order 250 with the given status.
func fetchedOrder(t *testing.T, scope string, statusID int, edit func(map[string]any)) domain.Message {
	var o map[string]any
	if err := json.Unmarshal(read(t, "api_v2_order_250.json"), &o); err != nil {
		t.Fatal(err)
	}
	o["status_id"] = statusID
	if edit != nil {
		edit(o)
	}
	body, _ := json.Marshal(map[string]any{
		"scope": scope, "hash": "h1", "created_at": 1561479335, "data": map[string]any{"type": "order", "id": 250},
		"fetched": map[string]any{"at": "2019-06-25T16:40:00Z", "order": o, "products": json.RawMessage(read(t, "api_v2_order_250_products.json"))},
	})
	return domain.Message{ID: "h1", Type: scope, Payload: body}
}

func TestOrderStatusMapping(t *testing.T) {
	tests := []struct {
		name     string
		scope    string
		statusID int
		want     domain.EventType
		status   domain.OrderStatus
	}{
		{"created awaiting fulfillment", bigcommerce.ScopeOrderCreated, 11, domain.OrderPlaced, domain.StatusPlaced},
		{"created awaiting payment", bigcommerce.ScopeOrderCreated, 7, domain.OrderPlaced, domain.StatusPlaced},
		{"incomplete", bigcommerce.ScopeOrderUpdated, 0, domain.OrderUpdated, domain.StatusPlaced},
		{"partially shipped", bigcommerce.ScopeOrderUpdated, 3, domain.OrderUpdated, domain.StatusPlaced},
		{"shipped", bigcommerce.ScopeOrderStatusUpdated, 2, domain.OrderFulfilled, domain.StatusFulfilled},
		{"completed", bigcommerce.ScopeOrderUpdated, 10, domain.OrderFulfilled, domain.StatusFulfilled},
		{"cancelled", bigcommerce.ScopeOrderStatusUpdated, 5, domain.OrderCancelled, domain.StatusCancelled},
		{"declined", bigcommerce.ScopeOrderStatusUpdated, 6, domain.OrderCancelled, domain.StatusCancelled},
		{"refunded", bigcommerce.ScopeOrderStatusUpdated, 4, domain.OrderCancelled, domain.StatusCancelled},
		{"partially refunded", bigcommerce.ScopeOrderStatusUpdated, 14, domain.OrderUpdated, domain.StatusPlaced},
		{"disputed", bigcommerce.ScopeOrderStatusUpdated, 13, domain.OrderUpdated, domain.StatusPlaced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := bigcommerce.Provider{}.Normalize(src, fetchedOrder(t, tt.scope, tt.statusID, nil))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].Type != tt.want || evs[0].Order.Status != tt.status {
				t.Fatalf("events = %+v, want one %s with status %s", evs, tt.want, tt.status)
			}
		})
	}
}

func TestNormalizeRejectsInexactMoney(t *testing.T) {
	tests := []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"sub-cent total", func(o map[string]any) { o["total_inc_tax"] = "253.5650" }, "total_inc_tax"},
		{"no currency", func(o map[string]any) { o["default_currency_code"], o["currency_code"] = "", "" }, "currency"},
		{"other order", func(o map[string]any) { o["id"] = 251 }, "is not the webhook's order"},
		{"bad date", func(o map[string]any) { o["date_modified"] = "2019-06-25" }, "date_modified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bigcommerce.Provider{}.Normalize(src, fetchedOrder(t, bigcommerce.ScopeOrderUpdated, 11, tt.edit))
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Normalize = %v, want %s mentioning %q", err, domain.EINVALID, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name            string
		body            string
		wantType        string
		wantUnconfirmed bool
		wantErr         string
	}{
		{"order scope", `{"scope":"store/order/created","data":{"type":"order","id":250},"hash":"h1","created_at":1561479335}`, "store/order/created", true, ""},
		{"unhandled cart scope with a string id", `{"scope":"store/cart/created","data":{"type":"cart","id":"09346904-4175-44fd-be53-f7e598531b6c"},"hash":"h2","created_at":1561479335}`, "store/cart/created", false, ""},
		{"order scope without an id", `{"scope":"store/order/created","data":{"type":"order"},"hash":"h3"}`, "", false, "data.id"},
		{"order scope with a string id", `{"scope":"store/order/created","data":{"type":"order","id":"250"},"hash":"h3"}`, "", false, "data.id"},
		{"no hash", `{"scope":"store/order/created","data":{"type":"order","id":250}}`, "", false, "hash"},
		{"not JSON", `scope=store/order/created`, "", false, "not a BigCommerce webhook payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := bigcommerce.Provider{}.Parse(src, domain.Delivery{Body: []byte(tt.body)})
			if tt.wantErr != "" {
				if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse = %v, %v; want %s mentioning %q", msgs, err, domain.EINVALID, tt.wantErr)
				}
				return
			}
			if err != nil || len(msgs) != 1 || msgs[0].Type != tt.wantType || msgs[0].Unconfirmed != tt.wantUnconfirmed {
				t.Fatalf("Parse = %+v, %v; want one %s message, unconfirmed %v", msgs, err, tt.wantType, tt.wantUnconfirmed)
			}
		})
	}
}

// TestDedupeKeyCannotCollideAcrossScopes: deliveries that share a hash but differ in
// scope or resource are different messages (the hash alone answered a refund
// "duplicate"); a retry of one event (same body) is the same message.
func TestDedupeKeyCannotCollideAcrossScopes(t *testing.T) {
	// BigCommerce's own examples: order/created and transaction/created share a hash, so
	// do message/created and refund/created.
	ids := map[string]string{}
	for _, name := range []string{"bc_docs_store_order_created.json", "bc_docs_store_order_transaction_created.json",
		"bc_docs_store_order_message_created.json", "bc_docs_store_order_refund_created.json"} {
		body := read(t, name)
		msgs, err := bigcommerce.Provider{}.Parse(src, domain.Delivery{Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := ids[msgs[0].ID]; ok {
			t.Errorf("%s and %s share the dedupe key %q", prev, name, msgs[0].ID)
		}
		ids[msgs[0].ID] = name
		again, _ := bigcommerce.Provider{}.Parse(src, domain.Delivery{Body: body})
		if again[0].ID != msgs[0].ID {
			t.Errorf("a retry of %s has another key: %q, %q", name, again[0].ID, msgs[0].ID)
		}
	}
	other := []byte(strings.Replace(string(read(t, "bc_docs_store_order_refund_created.json")), `"refund_id": 3`, `"refund_id": 4`, 1))
	msgs, err := bigcommerce.Provider{}.Parse(src, domain.Delivery{Body: other})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ids[msgs[0].ID]; ok {
		t.Errorf("another refund of the same order with the same hash shares its key %q", msgs[0].ID)
	}
}
