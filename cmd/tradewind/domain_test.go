package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// delivery is one simulated provider webhook: the same code `tradewind simulate` runs.
type delivery struct {
	source string
	typ    string
	o      webhook.SampleOptions
}

func (e *env) send(m *Main, d delivery) {
	e.t.Helper()
	src := testSources()[d.source]
	var a webhook.Simulator = stripe.Provider{}
	if src.Provider == shopify.Kind {
		a = shopify.Provider{}
	}
	if d.o.Now.IsZero() {
		d.o.Now = time.Now()
	}
	req, err := a.Sample(src, d.typ, d.o)
	if err != nil {
		e.t.Fatal(err)
	}
	if r := post(e.t, webhookURL(m, d.source), req); r.status != http.StatusOK {
		e.t.Fatalf("%s %s: %d %s", d.source, d.typ, r.status, r.body)
	}
}

// api calls the JSON API and decodes the answer into out.
func api(t *testing.T, m *Main, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+m.Addr()+path, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type conflictList struct {
	Conflicts []domain.Conflict `json:"conflicts"`
}

func TestEachConflictKindFromRealWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second) // within the signature tolerance
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	if code := api(t, m, http.MethodPut, "/api/v1/inventory/SKU-CF", map[string]int{"on_hand": 100}, nil); code != http.StatusOK {
		t.Fatalf("PUT inventory = %d", code)
	}
	if code := api(t, m, http.MethodPut, "/api/v1/inventory/SKU-SCARCE", map[string]int{"on_hand": 1}, nil); code != http.StatusOK {
		t.Fatalf("PUT inventory = %d", code)
	}
	tests := []struct {
		name  string
		ref   string
		sends []delivery
		kind  string
		state string
	}{
		{"paid after cancelled", "9101", []delivery{
			{shopifySource, shopify.TopicOrdersCreate, webhook.SampleOptions{EventID: "cf1-a", SKU: "SKU-CF", Amount: 1000, Now: at(1)}},
			{shopifySource, shopify.TopicOrdersCancelled, webhook.SampleOptions{EventID: "cf1-b", SKU: "SKU-CF", Amount: 1000, Now: at(2)}},
			{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: "evt_cf1", Amount: 1000, Now: at(3)}},
		}, domain.ConflictPaidAfterCancelled, "open"},
		{"amount differs from the order total", "9102", []delivery{
			{shopifySource, shopify.TopicOrdersCreate, webhook.SampleOptions{EventID: "cf2-a", SKU: "SKU-CF", Amount: 2500, Now: at(1)}},
			{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: "evt_cf2", Amount: 2000, Now: at(3)}},
		}, domain.ConflictAmountMismatch, "open"},
		{"refund larger than the capture", "9103", []delivery{
			{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: "evt_cf3a", Amount: 1000, Now: at(3)}},
			{testSource, "refund.created", webhook.SampleOptions{EventID: "evt_cf3b", Amount: 1500, Now: at(4)}},
		}, domain.ConflictRefundExceedsCapture, "resolved"},
		{"currency mismatch", "9104", []delivery{
			{shopifySource, shopify.TopicOrdersCreate, webhook.SampleOptions{EventID: "cf4-a", SKU: "SKU-CF", Amount: 1000, Currency: "USD", Now: at(1)}},
			{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: "evt_cf4", Amount: 1000, Currency: "EUR", Now: at(3)}},
		}, domain.ConflictCurrencyMismatch, "open"},
		{"order placed with no stock to reserve", "9105", []delivery{
			{shopifySource, shopify.TopicOrdersCreate, webhook.SampleOptions{EventID: "cf5-a", SKU: "SKU-SCARCE", Quantity: 3, Amount: 100, Now: at(1)}},
		}, domain.ConflictOversold, "open"},
		{"dispute opened", "9106", []delivery{
			{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: "evt_cf6a", Amount: 700, Now: at(3)}},
			{testSource, "charge.dispute.created", webhook.SampleOptions{EventID: "evt_cf6b", Amount: 700, Now: at(5)}},
		}, domain.ConflictDispute, "open"},
	}
	for _, tt := range tests {
		for _, d := range tt.sends {
			d.o.OrderRef = tt.ref
			e.send(m, d)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var list conflictList
			testenv.Eventually(t, 15*time.Second, func() (bool, string) {
				api(t, m, http.MethodGet, "/api/v1/conflicts?state="+tt.state+"&kind="+tt.kind, nil, &list)
				for _, c := range list.Conflicts {
					if c.OrderRef == tt.ref && c.State == tt.state && len(c.Events) > 0 {
						return true, ""
					}
				}
				return false, fmt.Sprintf("a %s %s conflict on order %s (have %+v)", tt.state, tt.kind, tt.ref, list.Conflicts)
			})
		})
	}

	t.Run("a person resolves a conflict through the API", func(t *testing.T) {
		var list conflictList
		api(t, m, http.MethodGet, "/api/v1/conflicts?state=open&kind="+domain.ConflictPaidAfterCancelled, nil, &list)
		if len(list.Conflicts) != 1 {
			t.Fatalf("open paid_after_cancelled conflicts = %+v", list.Conflicts)
		}
		path := fmt.Sprintf("/api/v1/conflicts/%d/resolve", list.Conflicts[0].ID)
		var errBody map[string]map[string]string
		if code := api(t, m, http.MethodPost, path, map[string]string{}, &errBody); code != http.StatusBadRequest || errBody["error"]["code"] != "invalid" {
			t.Errorf("resolve without a note = %d %v, want 400 invalid", code, errBody)
		}
		var got domain.Conflict
		if code := api(t, m, http.MethodPost, path, map[string]string{"note": "refunded in Stripe"}, &got); code != http.StatusOK || got.State != "resolved" {
			t.Errorf("resolve = %d %+v", code, got)
		}
		if code := api(t, m, http.MethodPost, path, map[string]string{"note": "again"}, nil); code != http.StatusConflict {
			t.Errorf("resolving twice = %d, want 409", code)
		}
	})

	t.Run("the order shows its conflicts and the oversold SKU is untouched", func(t *testing.T) {
		var o struct {
			Status    string            `json:"status"`
			Conflicts []domain.Conflict `json:"conflicts"`
		}
		api(t, m, http.MethodGet, "/api/v1/orders/9105", nil, &o)
		if o.Status != "placed" || len(o.Conflicts) != 1 || o.Conflicts[0].Kind != domain.ConflictOversold {
			t.Errorf("order 9105 = %+v, want placed with one oversold conflict", o)
		}
		var st domain.Stock
		api(t, m, http.MethodGet, "/api/v1/inventory/SKU-SCARCE", nil, &st)
		if st.OnHand != 1 || st.Reserved != 0 || st.Available != 1 {
			t.Errorf("SKU-SCARCE = %+v, want 1 on hand, nothing reserved", st)
		}
	})
}

func TestInventoryAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	var errBody map[string]map[string]string
	if code := api(t, m, http.MethodGet, "/api/v1/inventory/NOPE", nil, &errBody); code != http.StatusNotFound {
		t.Errorf("unknown SKU = %d, want 404", code)
	}
	if code := api(t, m, http.MethodPut, "/api/v1/inventory/W-1", map[string]int{"on_hand": -1}, &errBody); code != http.StatusBadRequest {
		t.Errorf("negative on_hand = %d %v, want 400", code, errBody)
	}
	if code := api(t, m, http.MethodPut, "/api/v1/inventory/W-1", map[string]string{}, &errBody); code != http.StatusBadRequest || errBody["error"]["message"] == "" {
		t.Errorf("missing on_hand = %d %v, want 400 naming the field", code, errBody)
	}
	var st domain.Stock
	if code := api(t, m, http.MethodPut, "/api/v1/inventory/W-1", map[string]int{"on_hand": 12}, &st); code != http.StatusOK || st.Available != 12 {
		t.Fatalf("PUT = %d %+v", code, st)
	}
	// An order reserves; the level cannot then be set below what is reserved.
	e.send(m, delivery{shopifySource, shopify.TopicOrdersCreate, webhook.SampleOptions{OrderRef: "9201", SKU: "W-1", Quantity: 5, Amount: 100}})
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/inventory/W-1", nil, &st)
		return st.Reserved == 5 && st.Available == 7, fmt.Sprintf("5 reserved by order 9201 (now %+v)", st)
	})
	if code := api(t, m, http.MethodPut, "/api/v1/inventory/W-1", map[string]int{"on_hand": 3}, &errBody); code != http.StatusConflict {
		t.Errorf("on_hand below reserved = %d %v, want 409", code, errBody)
	}
	if code := api(t, m, http.MethodGet, "/api/v1/inventory/W-1", nil, nil); code != http.StatusOK {
		t.Errorf("GET = %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/api/v1/inventory/W-1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token = %d, want 401", resp.StatusCode)
	}
}

func TestPaymentsAreQueuedBeforeOrders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true}) // no worker: the tasks stay queued
	e.send(m, delivery{testSource, "payment_intent.succeeded", webhook.SampleOptions{OrderRef: "9301", Amount: 100}})
	e.send(m, delivery{shopifySource, shopify.TopicOrdersCreate, webhook.SampleOptions{OrderRef: "9301", SKU: "Q-1", Amount: 100}})
	for queue, want := range map[string]int{"critical": 1, "default": 1} {
		info, err := m.inspector.GetQueueInfo(queue)
		if err != nil || info.Pending != want {
			t.Errorf("queue %s: %+v, %v; want %d pending", queue, info, err, want)
		}
	}
}
