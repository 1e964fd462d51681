package bigcommerce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/domain"
)

// TestOrdersListing: the listing asks for the window in ISO 8601, by id
// ascending, 250 a page, pages by min_id, ends at a short page or a 204, and
// sends access_token as X-Auth-Token.
func TestOrdersListing(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var queries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Query())
		n := len(queries)
		mu.Unlock()
		if r.URL.Path != "/stores/abc/v2/orders" || r.Header.Get("X-Auth-Token") != "tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var page []map[string]any
		switch n {
		case 1:
			for i := range ordersPage {
				page = append(page, map[string]any{"id": 10 + i})
			}
		case 2:
			page = []map[string]any{{"id": 900}}
		default:
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_ = json.NewEncoder(w).Encode(page)
	}))
	t.Cleanup(srv.Close)
	api, err := NewOrdersAPI(domain.Source{ID: "bc", Provider: Kind, Settings: map[string]string{"store_hash": "abc", "access_token": "tok", "api_base_url": srv.URL}}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	var ids []int64
	for raw, err := range api.Orders(context.Background(), since, since.Add(24*time.Hour)) {
		if err != nil {
			t.Fatal(err)
		}
		var o struct{ ID int64 }
		_ = json.Unmarshal(raw, &o)
		ids = append(ids, o.ID)
	}
	if len(ids) != ordersPage+1 || ids[ordersPage] != 900 {
		t.Errorf("listed %d orders ending %v; want %d ending 900", len(ids), ids[len(ids)-1], ordersPage+1)
	}
	want := []url.Values{
		{"min_date_modified": {"2026-11-29T03:00:00+00:00"}, "max_date_modified": {"2026-11-30T03:00:00+00:00"}, "sort": {"id:asc"}, "limit": {"250"}},
		{"min_date_modified": {"2026-11-29T03:00:00+00:00"}, "max_date_modified": {"2026-11-30T03:00:00+00:00"}, "sort": {"id:asc"}, "limit": {"250"}, "min_id": {fmt.Sprint(10 + ordersPage)}},
	}
	if diff := cmp.Diff(want, queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func TestOrdersAPIRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		wantCode string
		wantHit  int
	}{
		{"refused token", http.StatusUnauthorized, domain.EUNAUTHORIZED, 1},
		{"bad request", http.StatusBadRequest, domain.EINVALID, 1},
		{"down", http.StatusServiceUnavailable, domain.EUNAVAILABLE, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			hits := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hits++
				mu.Unlock()
				w.WriteHeader(tt.status)
				fmt.Fprint(w, `[{"status":400,"message":"The field 'min_date_modified' is invalid."}]`)
			}))
			t.Cleanup(srv.Close)
			api, err := NewOrdersAPI(domain.Source{ID: "bc", Provider: Kind, Settings: map[string]string{"store_hash": "abc", "access_token": "tok", "api_base_url": srv.URL}}, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			api.Sleep = func(context.Context, time.Duration) error { return nil }
			var got error
			for _, err := range api.Orders(context.Background(), time.Unix(0, 0), time.Unix(60, 0)) {
				got = err
			}
			if domain.ErrorCode(got) != tt.wantCode || hits != tt.wantHit {
				t.Errorf("error %v after %d requests; want code %s after %d", got, hits, tt.wantCode, tt.wantHit)
			}
		})
	}
}

func TestNewOrdersAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]string
		wantBase string
		wantCode string
	}{
		{"default base", map[string]string{"store_hash": "abc", "access_token": "t"}, "https://api.bigcommerce.com/stores/abc", ""},
		{"api_base_url", map[string]string{"store_hash": "abc", "access_token": "t", "api_base_url": "http://127.0.0.1:9/"}, "http://127.0.0.1:9/stores/abc", ""},
		{"no token", map[string]string{"store_hash": "abc"}, "", domain.EINVALID},
		{"no hash", map[string]string{"access_token": "t"}, "", domain.EINVALID},
		{"bad base", map[string]string{"store_hash": "abc", "access_token": "t", "api_base_url": "ftp://x"}, "", domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewOrdersAPI(domain.Source{ID: "s", Provider: Kind, Settings: tt.settings}, nil)
			if tt.wantCode != "" {
				if domain.ErrorCode(err) != tt.wantCode {
					t.Fatalf("error %v; want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil || a.BaseURL != tt.wantBase {
				t.Fatalf("%+v, %v; want base %s", a, err, tt.wantBase)
			}
		})
	}
}

func TestWait429(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"retry-after wins", http.Header{"Retry-After": {"3"}, "X-Rate-Limit-Time-Reset-Ms": {"9000"}}, 3 * time.Second},
		{"reset ms", http.Header{"X-Rate-Limit-Time-Reset-Ms": {"1500"}}, 1500 * time.Millisecond},
		{"neither", http.Header{}, time.Second},
		{"capped", http.Header{"X-Rate-Limit-Time-Reset-Ms": {"900000"}}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wait429(tt.header); got != tt.want {
				t.Errorf("wait429 = %v; want %v", got, tt.want)
			}
		})
	}
}

// TestListedMessage: the replayed webhook is the thin payload BigCommerce
// sends, naming the order, with the listed order under "fetched"; it
// normalizes to the order's snapshot at its date_modified.
func TestListedMessage(t *testing.T) {
	t.Parallel()
	mod := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	raw, _ := json.Marshal(v2Order(FakeOrder{ID: 120, StatusID: 5, Currency: "USD", Modified: mod, Lines: []FakeLine{{Quantity: 2, UnitPrice: 1250}}}))
	h, err := ReadListed(raw)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ListedMessage("abc", ScopeOrderUpdated, h)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "reconciliation:order:120:2026-11-29T10:00:00Z" || m.Type != ScopeOrderUpdated || !m.OccurredAt.Equal(mod) {
		t.Errorf("message %s %s %s; want reconciliation:order:120:2026-11-29T10:00:00Z store/order/updated at %s", m.ID, m.Type, m.OccurredAt, mod)
	}
	p, err := decode(m.Payload)
	if err != nil || p.Data.Type != "order" || string(p.Data.ID) != "120" || len(p.Hash) != 40 || p.Producer != "stores/abc" {
		t.Errorf("payload %s (%v); want a thin store/order/updated naming order 120 with a SHA-1 hash", m.Payload, err)
	}
	evs, err := Provider{}.Normalize(domain.Source{ID: "bc"}, m)
	if err != nil || len(evs) != 1 || evs[0].Order == nil {
		t.Fatalf("normalize: %v, %+v", err, evs)
	}
	ev := evs[0]
	if ev.Type != domain.OrderCancelled || ev.OrderRef != "120" || ev.Version != mod.UnixMilli() || ev.Order.Total != 2500 || ev.Order.Status != domain.StatusCancelled {
		t.Errorf("event %s order %s version %d total %d status %s; want order_cancelled 120 %d 2500 cancelled", ev.Type, ev.OrderRef, ev.Version, ev.Order.Total, ev.Order.Status, mod.UnixMilli())
	}
	if _, err := ListedMessage("abc", ScopeRefundCreated, h); err == nil {
		t.Error("a listed order replayed as store/order/refund/created; want an error")
	}
}
