package bigcommerce_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/bigcommerce"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

// TestFakeStoreCompletesSamples runs simulated thin payloads through Fetch against the
// fake store and checks what Normalize makes of them.
func TestFakeStoreCompletesSamples(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	tests := []struct {
		name  string
		scope string
		o     webhook.SampleOptions
		want  []domain.Event
	}{
		{
			name: "order created", scope: bigcommerce.ScopeOrderCreated,
			o: webhook.SampleOptions{EventID: "e1", OrderRef: "4242", SKU: "TEE-M", Quantity: 3, Amount: 1250, Currency: "EUR", Now: at},
			want: []domain.Event{{
				Type: domain.OrderPlaced, Provider: bigcommerce.Kind, Source: "acme-bc", OrderRef: "4242", CustomerRef: "11",
				OccurredAt: at, Version: at.UnixMilli(),
				Order: &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: "EUR", Total: 3750,
					Lines: []domain.Line{{SKU: "TEE-M", Quantity: 3, UnitPrice: 1250}}},
			}},
		},
		{
			name: "order status updated, JPY", scope: bigcommerce.ScopeOrderStatusUpdated,
			o: webhook.SampleOptions{EventID: "e2", OrderRef: "4243", Amount: 500, Currency: "JPY", Now: at},
			want: []domain.Event{{
				Type: domain.OrderUpdated, Provider: bigcommerce.Kind, Source: "acme-bc", OrderRef: "4243", CustomerRef: "11",
				OccurredAt: at, Version: at.UnixMilli(),
				Order: &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: "JPY", Total: 500,
					Lines: []domain.Line{{SKU: "SKU-1", Quantity: 1, UnitPrice: 500}}},
			}},
		},
		{
			name: "sku inventory updated", scope: bigcommerce.ScopeSKUInventoryUpdated,
			o: webhook.SampleOptions{EventID: "e3", SKU: "MUG-1", Quantity: 7, Now: at},
			want: []domain.Event{{
				Type: domain.InventoryLevelSet, Provider: bigcommerce.Kind, Source: "acme-bc", OccurredAt: at,
				Stock: &domain.StockLevel{SKU: "MUG-1", OnHand: 7},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := bigcommerce.NewFakeStore()
			store.RequireCredentials("abc123", token)
			srv := httptest.NewServer(store)
			t.Cleanup(srv.Close)
			s := source(srv.URL)
			p := bigcommerce.Provider{Client: srv.Client(), Now: func() time.Time { return at }}

			req, err := p.Sample(s, tt.scope, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.AddSample(req.Body, tt.o); err != nil {
				t.Fatal(err)
			}
			d := webhooktest.Delivery(req, at)
			if err := p.Verify(context.Background(), s, d); err != nil {
				t.Fatalf("Verify = %v", err)
			}
			msgs, err := p.Parse(s, d)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("Parse = %v, %v", msgs, err)
			}
			m, err := p.Fetch(context.Background(), s, msgs[0])
			if err != nil {
				t.Fatalf("Fetch = %v", err)
			}
			if store.Served() != 1 {
				t.Errorf("Served() = %d after one Fetch, want 1", store.Served())
			}
			got, err := p.Normalize(s, m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				tt.want[i].EventID = m.ID
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFakeStoreRefusals(t *testing.T) {
	at := time.Now()
	store := bigcommerce.NewFakeStore()
	store.RequireCredentials("abc123", token)
	srv := httptest.NewServer(store)
	t.Cleanup(srv.Close)
	p := bigcommerce.Provider{Client: srv.Client()}
	fetch := func(s domain.Source, ref string) error {
		req, err := p.Sample(s, bigcommerce.ScopeOrderCreated, webhook.SampleOptions{OrderRef: ref, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := p.Parse(s, webhooktest.Delivery(req, at))
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Fetch(context.Background(), s, msgs[0])
		return err
	}
	store.PutOrder(bigcommerce.FakeOrder{ID: 77, Lines: []bigcommerce.FakeLine{{SKU: "A", Quantity: 1, UnitPrice: 100}}})

	wrongToken := source(srv.URL)
	wrongToken.Settings["access_token"] = "tok_wrong"
	tests := []struct {
		name string
		src  domain.Source
		ref  string
		down bool
		want string
		// served is how much Served grows: a Fetch answered to its end, found or not.
		served int
	}{
		{"known order", source(srv.URL), "77", false, "", 1},
		{"unknown order", source(srv.URL), "78", false, domain.ENOTFOUND, 1},
		{"wrong access token", wrongToken, "77", false, domain.EUNAVAILABLE, 0},
		{"store down", source(srv.URL), "77", true, domain.EUNAVAILABLE, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.SetDown(tt.down)
			defer store.SetDown(false)
			before := store.Served()
			err := fetch(tt.src, tt.ref)
			if got := domain.ErrorCode(err); got != tt.want {
				t.Errorf("Fetch error = %v (code %q), want code %q", err, got, tt.want)
			}
			if got := store.Served() - before; got != tt.served {
				t.Errorf("Served grew by %d, want %d", got, tt.served)
			}
		})
	}
}

// TestFakeStoreListsTransactionsAndRefunds: the fake answers the v3 calls Fetch makes for
// store/order/transaction/created and store/order/refund/created, with exact amounts.
func TestFakeStoreListsTransactionsAndRefunds(t *testing.T) {
	store := bigcommerce.NewFakeStore()
	srv := httptest.NewServer(store)
	defer srv.Close()
	store.PutOrder(bigcommerce.FakeOrder{ID: 7, Currency: "JPY", Transactions: []bigcommerce.FakeTransaction{{ID: 1, Event: "purchase", Amount: 2500}},
		Refunds: []bigcommerce.FakeRefund{{ID: 2, Amount: 500}}})
	store.PutOrder(bigcommerce.FakeOrder{ID: 8, Transactions: []bigcommerce.FakeTransaction{{ID: 3, Event: "capture", Amount: 1999}}})
	for path, want := range map[string]string{
		"/stores/x/v3/orders/7/transactions":            `"amount":2500,`,
		"/stores/x/v3/orders/7/payment_actions/refunds": `"amount":500,`,
		"/stores/x/v3/orders/8/transactions":            `"amount":19.99,`,
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d %s, want 200 with %s", path, resp.StatusCode, b, want)
		}
	}
}
