package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// rawAPI calls the API with a raw (already escaped) path and returns the status
// and the body.
func rawAPI(t *testing.T, m *Main, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+m.Addr()+"/", rd)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // sent exactly as written: %00, %2F and %ff stay escaped
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The repro: a NUL in a filter was a 500 (PostgreSQL refused the text).
func TestBadInputIsA400(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	long := strings.Repeat("x", 2000) // under the server's 4 KB header buffer, over the 1 KB for a value
	tests := []struct {
		name, method, path, body, want string
	}{
		{"NUL in webhooks source", "GET", "/api/v1/webhooks?source=%00", "", "NUL"},
		{"NUL in webhooks order_ref", "GET", "/api/v1/webhooks?order_ref=a%00b", "", "NUL"},
		{"invalid UTF-8 in webhooks source", "GET", "/api/v1/webhooks?source=%ff%fe", "", "UTF-8"},
		{"over-long webhooks source", "GET", "/api/v1/webhooks?source=" + long, "", "longer than"},
		{"NUL in conflicts order_ref", "GET", "/api/v1/conflicts?order_ref=%00", "", "NUL"},
		{"NUL in conflicts kind", "GET", "/api/v1/conflicts?kind=x%00", "", "NUL"},
		{"NUL in a parameter name", "GET", "/api/v1/conflicts?a%00=1", "", "NUL"},
		{"NUL in an order ref", "GET", "/api/v1/orders/A%00", "", "NUL"},
		{"invalid UTF-8 in an order ref", "GET", "/api/v1/orders/%c3%28", "", "UTF-8"},
		{"malformed escape in an order ref", "GET", "/api/v1/orders/A%zz", "", "%-escape"},
		{"NUL in a SKU", "GET", "/api/v1/inventory/%00", "", "NUL"},
		{"NUL in a SKU set", "PUT", "/api/v1/inventory/S%00", `{"on_hand": 3}`, "NUL"},
		{"NUL in a webhook id", "GET", "/api/v1/webhooks/1%00", "", "NUL"},
		{"NUL in a reservation id", "DELETE", "/api/v1/reservations/%00", "", "NUL"},
		{"NUL in a reservation's JSON sku", "POST", "/api/v1/reservations", `{"sku": "A\u0000", "quantity": 1}`, "sku: contains a NUL"},
		{"NUL in a resolve note", "POST", "/api/v1/conflicts/1/resolve", `{"note": "done\u0000"}`, "note: contains a NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawAPI(t, m, tt.method, tt.path, tt.body)
			var got struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil || status != http.StatusBadRequest ||
				got.Error.Code != domain.EINVALID || !strings.Contains(got.Error.Message, tt.want) {
				t.Errorf("%s %.80s = %d %s, want 400 invalid naming %q", tt.method, tt.path, status, body, tt.want)
			}
		})
	}

	o := newOps(t, m)
	o.login()
	for _, path := range []string{"/ops/webhooks?source=%00", "/ops/webhooks?status=%ff", "/ops/conflicts?kind=%00", "/ops/orders?ref=%00",
		"/ops/inventory?sku=%00", "/ops/webhooks/1%00", "/ops/login?next=%00"} {
		if p := o.get(path); p.status != http.StatusBadRequest || !strings.Contains(p.body, `class="error"`) {
			t.Errorf("GET %s = %d, want a 400 page:\n%s", path, p.status, p.body)
		}
	}
	csrf := o.csrf("/ops/inventory")
	if p := o.post("/ops/inventory", url.Values{"csrf": {csrf}, "sku": {"S\x00"}, "on_hand": {"1"}}); p.status != http.StatusBadRequest {
		t.Errorf("a form with NUL in the SKU = %d, want 400:\n%s", p.status, p.body)
	}
	if p := o.get("/ops/"); p.status != http.StatusOK {
		t.Errorf("overview after bad input = %d", p.status) // the session survived, and nothing broke
	}
}

// Order refs, SKUs and ids are percent-decoded path parameters: "A%2F1" is "A/1".
func TestPathParametersArePercentDecoded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)

	refs := []string{"A/1", "A 1", "A+1%", "Bestellung-ü"}
	for i, ref := range refs {
		e.send(m, delivery{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: fmt.Sprintf("evt_path_%d", i), OrderRef: ref, Amount: 500}})
	}
	for _, ref := range refs {
		path := "/api/v1/orders/" + url.PathEscape(ref) // A%2F1, A%201, A+1%25, Bestellung-%C3%BC
		var status int
		var body string
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			status, body = rawAPI(t, m, http.MethodGet, path, "")
			return status == http.StatusOK, fmt.Sprintf("GET %s = %d %s", path, status, body)
		})
		var o orderView
		_ = json.Unmarshal([]byte(body), &o)
		if diff := cmp.Diff(orderView{Ref: ref, PaymentStatus: "paid"}, orderView{Ref: o.Ref, PaymentStatus: o.PaymentStatus}); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", path, diff)
		}
	}
	if status, body := rawAPI(t, m, http.MethodGet, "/api/v1/orders/A%2F2", ""); status != http.StatusNotFound || !strings.Contains(body, `no order \"A/2\"`) {
		t.Errorf("unknown ref with a slash = %d %s, want 404 naming A/2", status, body)
	}

	t.Run("inventory", func(t *testing.T) {
		if status, body := rawAPI(t, m, http.MethodPut, "/api/v1/inventory/SKU%2FRED%20L", `{"on_hand": 7}`); status != http.StatusOK {
			t.Fatalf("PUT = %d %s", status, body)
		}
		var st domain.Stock
		status, body := rawAPI(t, m, http.MethodGet, "/api/v1/inventory/SKU%2FRED%20L", "")
		_ = json.Unmarshal([]byte(body), &st)
		if status != http.StatusOK || st.SKU != "SKU/RED L" || st.OnHand != 7 {
			t.Errorf("GET = %d %s, want SKU/RED L with 7 on hand", status, body)
		}
		o := newOps(t, m) // the dashboard's lookup finds the same SKU
		o.login()
		if p := o.get("/ops/inventory?sku=" + url.QueryEscape("SKU/RED L")); p.status != http.StatusOK || !strings.Contains(p.body, "<td>7</td>") {
			t.Errorf("dashboard lookup = %d:\n%s", p.status, p.body)
		}
	})

	t.Run("webhooks and reservations", func(t *testing.T) {
		var list webhookList
		if api(t, m, http.MethodGet, "/api/v1/webhooks?limit=1", nil, &list); len(list.Webhooks) != 1 {
			t.Fatalf("no webhook listed: %+v", list)
		}
		id := list.Webhooks[0].ID
		var one struct {
			ID int64 `json:"id"`
		}
		path := "/api/v1/webhooks/" + percentEncode(fmt.Sprint(id)) // 17 is %31%37
		status, body := rawAPI(t, m, http.MethodGet, path, "")
		if _ = json.Unmarshal([]byte(body), &one); status != http.StatusOK || one.ID != id {
			t.Errorf("GET %s = %d %s, want webhook %d", path, status, body, id)
		}
		var r domain.Reservation
		status, body = rawAPI(t, m, http.MethodPost, "/api/v1/reservations", `{"sku": "SKU/RED L", "quantity": 2}`)
		if _ = json.Unmarshal([]byte(body), &r); status != http.StatusCreated || r.SKU != "SKU/RED L" {
			t.Fatalf("reserve = %d %s", status, body)
		}
		path = "/api/v1/reservations/" + percentEncode(r.ID)
		status, body = rawAPI(t, m, http.MethodDelete, path, "")
		if _ = json.Unmarshal([]byte(body), &r); status != http.StatusOK || r.State != domain.ReservationReleased {
			t.Errorf("DELETE %s = %d %s, want the reservation released", path, status, body)
		}
	})
}

// percentEncode escapes every byte of s, as a client may.
func percentEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
