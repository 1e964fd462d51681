package shopify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/shopify"

var src = domain.Source{ID: "acme-shopify", Provider: shopify.Kind, Secrets: []string{"shpss_test_client_secret"}}

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

// unwrap returns the bytes of the fixture's single top-level member ("order",
// "inventory_level") unchanged: the webhook body is that object.
func unwrap(t *testing.T, name string) []byte {
	var w map[string]json.RawMessage
	if err := json.Unmarshal(read(t, name), &w); err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 {
		t.Fatalf("%s: want one wrapped object, got %d keys", name, len(w))
	}
	for _, v := range w {
		return v
	}
	return nil
}

func TestKnownAnswerVector(t *testing.T) {
	var kat struct {
		Secret   string            `json:"secret"`
		Body     string            `json:"raw_body"`
		Header   string            `json:"header"`
		Expected string            `json:"expected"`
		Other    map[string]string `json:"other_headers_in_test"`
	}
	if err := json.Unmarshal(read(t, "kat_shopify_app_js.json"), &kat); err != nil {
		t.Fatal(err)
	}
	if got := shopify.Sign(kat.Secret, []byte(kat.Body)); got != kat.Expected {
		t.Fatalf("Sign = %q, want %q", got, kat.Expected)
	}
	h := http.Header{}
	h.Set(kat.Header, kat.Expected)
	for k, v := range kat.Other {
		h.Set(k, v)
	}
	s := domain.Source{ID: "kat", Secrets: []string{kat.Secret}}
	d := domain.Delivery{Header: h, Body: []byte(kat.Body), ReceivedAt: time.Now()}
	p := shopify.Provider{}
	if err := p.Verify(context.Background(), s, d); err != nil {
		t.Fatalf("Verify(vector) = %v", err)
	}
	for i := range d.Body {
		bad := d
		bad.Body = []byte(kat.Body)
		bad.Body[i] ^= 0x20
		if err := p.Verify(context.Background(), s, bad); err == nil {
			t.Fatalf("Verify accepted the vector with byte %d changed", i)
		}
	}
	// The vector is a products/create delivery: verified, parsed, stored as ignored.
	msgs, err := p.Parse(s, d)
	if err != nil || len(msgs) != 1 || msgs[0].ID != "123456789" || msgs[0].Type != "products/create" || p.Handles(msgs[0].Type) {
		t.Fatalf("Parse(vector) = %+v, %v; want one unhandled products/create message 123456789", msgs, err)
	}
}

func TestContract(t *testing.T) {
	webhooktest.Contract(t, shopify.Provider{}, webhooktest.Options{Source: src, OtherSecret: "shpss_other_secret"})
}

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, shopify.Provider{}, webhooktest.Options{Source: src})
}

func TestCheckSource(t *testing.T) {
	tests := []struct {
		name     string
		secrets  []string
		settings map[string]string
		wantKey  string
	}{
		{"valid", []string{"s"}, nil, ""},
		{"with sku map and location", []string{"s"}, map[string]string{"inventory_item_skus": "808950810=IPOD2008GREEN, 808950811=IPOD2008RED", "location_id": "905684977"}, ""},
		{"no secrets", nil, nil, "secrets:"},
		{"empty secret", []string{"s", ""}, nil, "secrets[1]"},
		{"sku map without =", []string{"s"}, map[string]string{"inventory_item_skus": "808950810:IPOD"}, "inventory_item_skus:"},
		{"sku map with a non-numeric id", []string{"s"}, map[string]string{"inventory_item_skus": "gid://shopify/InventoryItem/1=A"}, "inventory_item_skus:"},
		{"sku map with a duplicate", []string{"s"}, map[string]string{"inventory_item_skus": "1=A,1=B"}, "inventory_item_skus:"},
		{"location not numeric", []string{"s"}, map[string]string{"location_id": "Main warehouse"}, "location_id:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := shopify.Provider{}.CheckSource(domain.Source{ID: "s", Secrets: tt.secrets, Settings: tt.settings})
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

// delivery signs body as a Shopify delivery of topic.
func delivery(t *testing.T, s domain.Source, topic, webhookID string, body []byte, triggeredAt string) domain.Delivery {
	t.Helper()
	h := http.Header{}
	h.Set(shopify.TopicHeader, topic)
	h.Set(shopify.WebhookIDHeader, webhookID)
	h.Set(shopify.EventIDHeader, "98880550-7158-44d4-b7cd-2c97c8a091b5")
	h.Set(shopify.ShopDomainHeader, "acme.myshopify.com")
	if triggeredAt != "" {
		h.Set(shopify.TriggeredAtHeader, triggeredAt)
	}
	h.Set(shopify.SignatureHeader, shopify.Sign(s.Secrets[0], body))
	d := domain.Delivery{Header: h, Body: body, ReceivedAt: time.Now()}
	if err := (shopify.Provider{}).Verify(context.Background(), s, d); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	return d
}

func TestGolden(t *testing.T) {
	order := unwrap(t, "shopify_python_api_order.json")
	bigIDs := []byte(strings.NewReplacer("450789469", "820982911946154508", "207119551", "115310627314723954").Replace(string(order)))
	cancelled := []byte(strings.Replace(string(order), `"cancelled_at": null`, `"cancelled_at": "2008-01-10T12:00:00-05:00"`, 1))
	paid := paidBody(t, order)
	fulfilled := []byte(strings.Replace(string(order), `"fulfillment_status": null`, `"fulfillment_status": "fulfilled"`, 1))
	dispute := string(read(t, "shopify_docs_disputes_create.json"))
	disputeLost := strings.NewReplacer(`"status": "under_review"`, `"status": "lost"`,
		`"finalized_on": null`, `"finalized_on": "2022-02-15T10:00:00-05:00"`).Replace(dispute)
	inquiryWon := strings.NewReplacer(`"type": "chargeback"`, `"type": "inquiry"`, `"status": "under_review"`, `"status": "won"`,
		`"finalized_on": null`, `"finalized_on": "2022-01-10T10:00:00-05:00"`).Replace(dispute)
	var customer struct {
		Customer json.RawMessage `json:"customer"`
	}
	if err := json.Unmarshal(order, &customer); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		topic       string
		body        []byte
		triggeredAt string
	}{
		{"orders_create", shopify.TopicOrdersCreate, order, ""},
		{"orders_updated_ids_above_2p53", shopify.TopicOrdersUpdated, bigIDs, ""},
		// X-Shopify-Triggered-At is unsigned: occurred_at stays the body's updated_at.
		{"orders_paid", shopify.TopicOrdersPaid, paid, "2008-01-10T16:00:05.123Z"},
		{"orders_cancelled", shopify.TopicOrdersCancelled, cancelled, ""},
		{"orders_fulfilled", shopify.TopicOrdersFulfilled, fulfilled, ""},
		{"refunds_create", shopify.TopicRefundsCreate, read(t, "refunds_create.body.json"), ""},
		// Published fixtures: a refund restocking two lines (restock true, from before
		// restock_type), and an authorization (given the currency current API versions send).
		{"refunds_create_python_api", shopify.TopicRefundsCreate, unwrap(t, "shopify_python_api_refund.json"), ""},
		{"order_transactions_create", shopify.TopicTransactionsCreate, []byte(strings.Replace(string(unwrap(t, "shopify_python_api_transaction.json")),
			`"amount": "409.94",`, `"amount": "409.94", "currency": "USD",`, 1)), ""},
		// Shopify's disputes/create sample payload, and the same dispute lost, and as an
		// inquiry won (disputes/update carries the same resource).
		{"disputes_create", shopify.TopicDisputesCreate, []byte(dispute), ""},
		{"disputes_update_lost", shopify.TopicDisputesUpdate, []byte(disputeLost), ""},
		{"disputes_update_inquiry_won", shopify.TopicDisputesUpdate, []byte(inquiryWon), ""},
		{"inventory_levels_update", shopify.TopicInventoryLevelsUpdate, unwrap(t, "shopify_python_api_inventory_level.json"), ""},
		{"customers_update", shopify.TopicCustomersUpdate, customer.Customer, ""},
		{"products_create_ignored", "products/create", []byte(`{"foo": "bar"}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := delivery(t, src, tt.topic, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", tt.body, tt.triggeredAt)
			got := webhooktest.NormalizeAll(t, shopify.Provider{}, src, d)
			webhooktest.Golden(t, filepath.Join(testdata, tt.name+".golden.json"), got)
		})
	}
}

// paidBody is the fixture order (financial_status authorized) as Shopify sends it once paid.
func paidBody(t *testing.T, order []byte) []byte {
	t.Helper()
	paid := strings.Replace(string(order), `"financial_status": "authorized"`, `"financial_status": "paid"`, 1)
	if paid == string(order) {
		t.Fatal("the fixture order no longer says financial_status authorized")
	}
	return []byte(paid)
}

func TestIDsAboveFloatPrecisionStayExact(t *testing.T) {
	order := paidBody(t, unwrap(t, "shopify_python_api_order.json"))
	body := []byte(strings.NewReplacer("450789469", "9007199254740993", "207119551", "9007199254740995").Replace(string(order)))
	evs := webhooktest.NormalizeAll(t, shopify.Provider{}, src, delivery(t, src, shopify.TopicOrdersPaid, "w1", body, ""))
	want := []string{"9007199254740993", "shopify:9007199254740993", "9007199254740995"}
	got := []string{evs[0].OrderRef, evs[1].PaymentRef, evs[0].CustomerRef}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
}

func TestInventorySettings(t *testing.T) {
	level := unwrap(t, "shopify_python_api_inventory_level.json")
	tests := []struct {
		name     string
		settings map[string]string
		body     []byte
		want     []domain.StockLevel
	}{
		{"unmapped item", nil, level, []domain.StockLevel{{SKU: "inventory_item:808950810", OnHand: 6}}},
		{"mapped item", map[string]string{"inventory_item_skus": "1=OTHER,808950810=IPOD2008GREEN"}, level, []domain.StockLevel{{SKU: "IPOD2008GREEN", OnHand: 6}}},
		{"the kept location", map[string]string{"location_id": "905684977"}, level, []domain.StockLevel{{SKU: "inventory_item:808950810", OnHand: 6}}},
		{"another location", map[string]string{"location_id": "1"}, level, nil},
		{"untracked", nil, []byte(`{"inventory_item_id":808950810,"location_id":905684977,"available":null,"updated_at":"2018-05-07T15:51:26-04:00"}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := src
			s.Settings = tt.settings
			evs := webhooktest.NormalizeAll(t, shopify.Provider{}, s, delivery(t, s, shopify.TopicInventoryLevelsUpdate, "w1", tt.body, ""))
			var got []domain.StockLevel
			for _, e := range evs {
				got = append(got, *e.Stock)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stock levels (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefunds(t *testing.T) {
	tx := func(id int64, amount int64, cur string) domain.PaymentChange {
		return domain.PaymentChange{Amount: amount, Currency: cur, RefundRef: fmt.Sprintf("transaction:%d", id)}
	}
	restock := func(cur string, flag bool, lines ...domain.RestockLine) domain.PaymentChange {
		return domain.PaymentChange{Currency: cur, RefundRef: "refund:1", Restock: flag, RestockLines: lines}
	}
	line := func(sku string) string {
		return fmt.Sprintf(`"line_item":{"id":9,"sku":%q,"variant_id":7}`, sku)
	}
	tests := []struct {
		name string
		body string
		want []domain.PaymentChange
	}{
		{"restock flag without lines", `{"id":1,"order_id":2,"restock":true,"transactions":[{"id":11,"kind":"refund","status":"success","amount":"5.00","currency":"usd"}]}`,
			[]domain.PaymentChange{tx(11, 500, "USD"), restock("USD", true)}},
		{"restock types per line", `{"id":1,"order_id":2,"refund_line_items":[{"quantity":1,"restock_type":"no_restock",` + line("A") + `},{"quantity":2,"restock_type":"cancel",` + line("B") + `},{"quantity":1,"restock_type":"return",` + line("") + `}],"transactions":[{"id":11,"kind":"refund","status":"success","amount":"5.00","currency":"USD"}]}`,
			[]domain.PaymentChange{tx(11, 500, "USD"), restock("USD", false, domain.RestockLine{SKU: "B", Quantity: 2}, domain.RestockLine{SKU: "shopify-variant:7", Quantity: 1})}},
		{"legacy restock restocks its lines", `{"id":1,"order_id":2,"restock":true,"refund_line_items":[{"quantity":1,` + line("A") + `}],"transactions":[]}`,
			[]domain.PaymentChange{restock("", false, domain.RestockLine{SKU: "A", Quantity: 1})}},
		{"no restock", `{"id":1,"order_id":2,"refund_line_items":[{"quantity":1,"restock_type":"no_restock",` + line("A") + `}],"transactions":[{"id":11,"kind":"refund","status":"success","amount":"5.00","currency":"USD"}]}`,
			[]domain.PaymentChange{tx(11, 500, "USD")}},
		{"each successful transaction counts by its id", `{"id":1,"order_id":2,"transactions":[{"id":11,"kind":"refund","status":"success","amount":"5.10","currency":"USD"},{"id":12,"kind":"refund","status":"success","amount":"0.05","currency":"USD"},{"id":13,"kind":"sale","status":"success","amount":"9.00","currency":"USD"}]}`,
			[]domain.PaymentChange{tx(11, 510, "USD"), tx(12, 5, "USD")}},
		{"only failed transactions", `{"id":1,"order_id":2,"transactions":[{"id":11,"kind":"refund","status":"failure","amount":"5.00","currency":"USD"}]}`, nil},
		{"zero-decimal currency", `{"id":1,"order_id":2,"transactions":[{"id":11,"kind":"refund","status":"success","amount":"500","currency":"JPY"}]}`,
			[]domain.PaymentChange{tx(11, 500, "JPY")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := webhooktest.NormalizeAll(t, shopify.Provider{}, src, delivery(t, src, shopify.TopicRefundsCreate, "w1", []byte(tt.body), ""))
			var got []domain.PaymentChange
			for _, e := range evs {
				got = append(got, *e.Payment)
				if e.PaymentRef != "shopify:2" || e.OrderRef != "2" || e.Type != domain.PaymentRefunded {
					t.Errorf("event = %s %q, %q; want PaymentRefunded on shopify:2, 2", e.Type, e.PaymentRef, e.OrderRef)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("payments (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransactions(t *testing.T) {
	tests := []struct {
		kind, status string
		want         domain.EventType
		refund       string
	}{
		{"authorization", "success", domain.PaymentAuthorized, ""},
		{"authorization", "failure", domain.PaymentFailed, ""},
		{"capture", "success", domain.PaymentSucceeded, ""},
		{"sale", "success", domain.PaymentSucceeded, ""},
		{"sale", "error", domain.PaymentFailed, ""},
		{"refund", "success", domain.PaymentRefunded, "transaction:5"},
		{"refund", "failure", domain.RefundFailed, "transaction:5"},
		{"void", "success", domain.PaymentFailed, ""},
		{"void", "failure", "", ""},
		{"sale", "pending", "", ""},
		{"change", "success", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.status, func(t *testing.T) {
			body := fmt.Sprintf(`{"id":5,"order_id":2,"kind":%q,"status":%q,"amount":"12.34","currency":"USD","created_at":"2024-01-02T03:04:05Z"}`, tt.kind, tt.status)
			evs := webhooktest.NormalizeAll(t, shopify.Provider{}, src, delivery(t, src, shopify.TopicTransactionsCreate, "w1", []byte(body), ""))
			if tt.want == "" {
				if len(evs) != 0 {
					t.Fatalf("events = %+v, want none", evs)
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("events = %+v, want one", evs)
			}
			e := evs[0]
			got := []any{e.Type, e.PaymentRef, e.OrderRef, e.Payment.Amount, e.Payment.Currency, e.Payment.RefundRef}
			if diff := cmp.Diff([]any{tt.want, "shopify:2", "2", int64(1234), "USD", tt.refund}, got); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizeRejectsInexactMoney(t *testing.T) {
	tests := []struct {
		name, topic, body, want string
	}{
		{"sub-cent total", shopify.TopicOrdersCreate, `{"id":1,"currency":"USD","total_price":"1.005","line_items":[]}`, "total_price"},
		{"sub-cent price", shopify.TopicOrdersCreate, `{"id":1,"currency":"USD","total_price":"1.00","line_items":[{"id":1,"sku":"A","quantity":1,"price":"0.999"}]}`, "price"},
		{"float id", shopify.TopicOrdersCreate, `{"id":1.5,"currency":"USD","total_price":"1.00"}`, "id"},
		{"no currency", shopify.TopicOrdersUpdated, `{"id":1,"total_price":"1.00"}`, "currency"},
		{"refund in two currencies", shopify.TopicRefundsCreate, `{"id":1,"order_id":2,"transactions":[{"kind":"refund","status":"success","amount":"1.00","currency":"USD"},{"kind":"refund","status":"success","amount":"1.00","currency":"EUR"}]}`, "mixes currencies"},
		{"refund without order", shopify.TopicRefundsCreate, `{"id":1}`, "order_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := shopify.Provider{}
			msgs, err := p.Parse(src, delivery(t, src, tt.topic, "w1", []byte(tt.body), ""))
			if err == nil {
				_, err = p.Normalize(src, msgs[0])
			}
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse+Normalize = %v, want %s mentioning %q", err, domain.EINVALID, tt.want)
			}
		})
	}
}

func TestParseNeedsHeaders(t *testing.T) {
	order := unwrap(t, "shopify_python_api_order.json")
	for _, h := range []string{shopify.WebhookIDHeader, shopify.TopicHeader} {
		t.Run(h, func(t *testing.T) {
			d := delivery(t, src, shopify.TopicOrdersCreate, "w1", order, "")
			d.Header.Del(h)
			if _, err := (shopify.Provider{}).Parse(src, d); domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("Parse without %s = %v, want %s", h, err, domain.EINVALID)
			}
		})
	}
}

func TestSampleUsesMappedInventoryItem(t *testing.T) {
	s := src
	s.Settings = map[string]string{"inventory_item_skus": "808950810=IPOD2008GREEN"}
	r, err := shopify.Provider{}.Sample(s, shopify.TopicInventoryLevelsUpdate, webhook.SampleOptions{EventID: "e1", SKU: "IPOD2008GREEN", Quantity: 3})
	if err != nil {
		t.Fatal(err)
	}
	evs := webhooktest.NormalizeAll(t, shopify.Provider{}, s, webhooktest.Delivery(r, time.Now()))
	if len(evs) != 1 || *evs[0].Stock != (domain.StockLevel{SKU: "IPOD2008GREEN", OnHand: 3}) {
		t.Fatalf("events = %+v, want IPOD2008GREEN at 3", evs)
	}
}

// kinds lists the types and ids of events, for comparisons.
func kinds(evs []domain.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type)+" "+e.EventID)
	}
	return out
}

// TestFactsComeFromTheSignedBodyNotTheTopic: Shopify signs the body only. A genuine body
// resent under another X-Shopify-Topic (and a new webhook id, triggered-at) must not
// yield a fact the body does not state, and the same body must always yield the same
// event ids, whatever the headers say.
func TestFactsComeFromTheSignedBodyNotTheTopic(t *testing.T) {
	order := unwrap(t, "shopify_python_api_order.json") // financial_status authorized, not cancelled, not fulfilled
	paid := paidBody(t, order)
	var customer struct {
		Customer json.RawMessage `json:"customer"`
	}
	if err := json.Unmarshal(order, &customer); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		topic string
		body  []byte
		want  []domain.EventType
	}{
		{"orders/create body as orders/paid: no payment", shopify.TopicOrdersPaid, order, nil},
		{"orders/create body as orders/cancelled: no cancel", shopify.TopicOrdersCancelled, order, nil},
		{"orders/create body as orders/fulfilled: no fulfilment", shopify.TopicOrdersFulfilled, order, nil},
		{"order body as customers/update: no customer", shopify.TopicCustomersUpdate, order, nil},
		{"order body as customers/create: no customer", shopify.TopicCustomersCreate, paid, nil},
		{"orders/create body as orders/updated: the body's snapshot", shopify.TopicOrdersUpdated, order, []domain.EventType{domain.OrderUpdated}},
		{"genuine orders/paid", shopify.TopicOrdersPaid, paid, []domain.EventType{domain.OrderUpdated, domain.PaymentSucceeded}},
		{"paid body as orders/updated: snapshot only", shopify.TopicOrdersUpdated, paid, []domain.EventType{domain.OrderUpdated}},
		{"genuine customers/update", shopify.TopicCustomersUpdate, customer.Customer, []domain.EventType{domain.CustomerUpserted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := delivery(t, src, tt.topic, "attacker-chosen-id", tt.body, "2030-01-01T00:00:00Z")
			evs := webhooktest.NormalizeAll(t, shopify.Provider{}, src, d)
			var got []domain.EventType
			for _, e := range evs {
				got = append(got, e.Type)
				if e.OccurredAt.Year() == 2030 {
					t.Errorf("%s occurred_at %s is X-Shopify-Triggered-At, an unsigned header", e.Type, e.OccurredAt)
				}
				if strings.Contains(e.EventID, "attacker-chosen-id") {
					t.Errorf("%s event id %q comes from X-Shopify-Webhook-Id, an unsigned header", e.Type, e.EventID)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("event types (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("same body under other headers yields the same event ids", func(t *testing.T) {
		first := webhooktest.NormalizeAll(t, shopify.Provider{}, src, delivery(t, src, shopify.TopicOrdersPaid, "w1", paid, "2008-01-10T16:00:05Z"))
		again := webhooktest.NormalizeAll(t, shopify.Provider{}, src, delivery(t, src, shopify.TopicOrdersPaid, "w2", paid, "2031-01-01T00:00:00Z"))
		asUpdate := webhooktest.NormalizeAll(t, shopify.Provider{}, src, delivery(t, src, shopify.TopicOrdersUpdated, "w3", paid, ""))
		if diff := cmp.Diff(kinds(first), kinds(again)); diff != "" {
			t.Errorf("replay under a new webhook id (-first +replay):\n%s", diff)
		}
		if diff := cmp.Diff(kinds(first)[:1], kinds(asUpdate)); diff != "" {
			t.Errorf("the same body as orders/updated: its snapshot event (-orders/paid +orders/updated):\n%s", diff)
		}
		other := webhooktest.NormalizeAll(t, shopify.Provider{}, src, delivery(t, src, shopify.TopicOrdersUpdated, "w1", order, ""))
		if kinds(other)[0] == kinds(asUpdate)[0] {
			t.Errorf("two different bodies share the event id %s", kinds(other)[0])
		}
	})
}

// TestDisputeStatuses: every dispute status Shopify documents (REST Dispute resource,
// GraphQL DisputeStatus) maps to an outcome; the type is the stage; a dispute on no
// order yields nothing.
func TestDisputeStatuses(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		status  string
		event   domain.EventType
		stage   int
		outcome string
	}{
		{"inquiry needs response", "inquiry", "needs_response", domain.DisputeOpened, 1, domain.DisputeOpen},
		{"inquiry under review", "inquiry", "under_review", domain.DisputeOpened, 1, domain.DisputeOpen},
		{"inquiry won", "inquiry", "won", domain.DisputeClosed, 1, domain.DisputeWon},
		{"chargeback needs response", "chargeback", "needs_response", domain.DisputeOpened, 2, domain.DisputeOpen},
		{"chargeback won", "chargeback", "won", domain.DisputeClosed, 2, domain.DisputeWon},
		{"chargeback lost", "chargeback", "lost", domain.DisputeClosed, 2, domain.DisputeLost},
		{"chargeback accepted", "chargeback", "accepted", domain.DisputeClosed, 2, domain.DisputeLost},
		{"charge refunded", "chargeback", "charge_refunded", domain.DisputeClosed, 2, domain.DisputeWon},
		{"prevented", "inquiry", "prevented", domain.DisputeClosed, 1, domain.DisputeWon},
		{"status added later", "chargeback", "pending_arbitration", domain.DisputeOpened, 2, domain.DisputeOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"id": 7, "order_id": 8, "type": %q, "amount": "1.00", "currency": "USD", "status": %q, "initiated_at": "2026-01-01T00:00:00Z"}`, tt.typ, tt.status)
			got := webhooktest.NormalizeAll(t, shopify.Provider{}, src, delivery(t, src, shopify.TopicDisputesUpdate, "w", []byte(body), ""))
			if len(got) != 1 || got[0].Dispute == nil {
				t.Fatalf("events = %+v, want one dispute", got)
			}
			want := domain.Dispute{Ref: "7", Amount: 100, Currency: "USD", Status: tt.status, Stage: tt.stage, Outcome: tt.outcome}
			if diff := cmp.Diff(want, *got[0].Dispute); diff != "" || got[0].Type != tt.event {
				t.Errorf("type %s, want %s; dispute (-want +got):\n%s", got[0].Type, tt.event, diff)
			}
		})
	}
	t.Run("no order", func(t *testing.T) {
		body := `{"id": 7, "order_id": null, "type": "chargeback", "amount": "1.00", "currency": "USD", "status": "lost"}`
		if got := webhooktest.NormalizeAll(t, shopify.Provider{}, src, delivery(t, src, shopify.TopicDisputesCreate, "w", []byte(body), "")); len(got) != 0 {
			t.Errorf("events = %+v, want none", got)
		}
	})
}
