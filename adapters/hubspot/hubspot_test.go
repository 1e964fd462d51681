package hubspot_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/hubspot"
	"github.com/tradewind/tradewind/adapters/hubspot/hubspottest"
	"github.com/tradewind/tradewind/adapters/webhookdest"
	"github.com/tradewind/tradewind/domain"
)

type orders map[string]domain.Order

func (o orders) Order(_ context.Context, ref string) (domain.Order, []domain.AppliedEvent, error) {
	ord, ok := o[ref]
	if !ok {
		return ord, nil, domain.Errorf(domain.ENOTFOUND, "no order")
	}
	return ord, nil, nil
}

type noConflicts struct{}

func (noConflicts) List(context.Context, domain.ConflictFilter) ([]domain.Conflict, error) {
	return nil, nil
}

func setup(t *testing.T) (*hubspottest.Server, *hubspot.Sender, domain.Destination, orders) {
	fake := hubspottest.New("pat-test")
	t.Cleanup(fake.Close)
	o := orders{}
	s := &hubspot.Sender{Render: &webhookdest.Renderer{Orders: o, Conflicts: noConflicts{}}}
	d := domain.Destination{ID: "acme-hubspot", Kind: domain.DestinationHubSpot, Timeout: time.Second,
		Settings: map[string]string{hubspot.SettingToken: "pat-test", hubspot.SettingAPIBaseURL: fake.URL}}
	return fake, s, d, o
}

// An order's events upsert one deal keyed by order_ref: a retry or a later
// event updates it; a customer is one contact keyed by email.
func TestOrdersAreDealsUpsertedByOrderRef(t *testing.T) {
	t.Parallel()
	fake, s, d, o := setup(t)
	ctx := context.Background()
	o["1001"] = domain.Order{Ref: "1001", Status: domain.StatusPlaced, PaymentStatus: domain.PayUnpaid, Currency: "USD", Total: 2550}
	for _, typ := range []domain.DownstreamType{domain.DownOrderPlaced, domain.DownOrderPlaced} { // the second: a retry
		if res := s.Send(ctx, d, domain.Outbound{Type: typ, OrderRef: "1001", Sequence: 1}, time.Now()); res.Err != nil {
			t.Fatalf("send %s: %v", typ, res.Err)
		}
	}
	o["1001"] = domain.Order{Ref: "1001", Status: domain.StatusPlaced, PaymentStatus: domain.PayPaid, Currency: "USD", Total: 2550}
	if res := s.Send(ctx, d, domain.Outbound{Type: domain.DownOrderPaid, OrderRef: "1001", Sequence: 2}, time.Now()); res.Err != nil {
		t.Fatal(res.Err)
	}
	data, _ := json.Marshal(domain.CustomerData{Email: "ada@example.com", Name: "Ada Lovelace", OrderRef: "1001"})
	if res := s.Send(ctx, d, domain.Outbound{Type: domain.DownCustomerUpserted, Data: data}, time.Now()); res.Err != nil {
		t.Fatal(res.Err)
	}
	deals, contacts, _, _ := fake.Counts()
	if deals != 1 || contacts != 1 {
		t.Fatalf("%d deals, %d contacts; want one of each", deals, contacts)
	}
	deal, _ := fake.Deal("1001")
	want := map[string]string{"hs_object_id": "1", "order_ref": "1001", "dealname": "Order 1001", "pipeline": "default",
		"dealstage": "closedwon", "amount": "25.50", "deal_currency_code": "USD"}
	if diff := cmp.Diff(want, deal); diff != "" {
		t.Errorf("deal (-want +got):\n%s", diff)
	}
	contact, _ := fake.Contact("ada@example.com")
	if contact["firstname"] != "Ada" || contact["lastname"] != "Lovelace" {
		t.Errorf("contact %v", contact)
	}
}

// Over the per-10-seconds budget HubSpot answers 429: the attempt fails and says
// to wait the window; a wrong token is a failure, never a success.
func TestRateLimitAndAuth(t *testing.T) {
	t.Parallel()
	fake, s, d, o := setup(t)
	fake.Budget = 1
	o["1"] = domain.Order{Ref: "1", Status: domain.StatusPlaced, Currency: "EUR", Total: 100}
	ctx := context.Background()
	if res := s.Send(ctx, d, domain.Outbound{Type: domain.DownOrderPlaced, OrderRef: "1"}, time.Now()); res.Err != nil {
		t.Fatal(res.Err)
	}
	res := s.Send(ctx, d, domain.Outbound{Type: domain.DownOrderPlaced, OrderRef: "1"}, time.Now())
	if res.Err == nil || res.StatusCode != 429 || res.RetryAfter != 10*time.Second {
		t.Errorf("over budget: %+v; want a 429 failure waiting the 10s window", res)
	}
	d.Settings[hubspot.SettingToken] = "wrong"
	if res := s.Send(ctx, d, domain.Outbound{Type: domain.DownOrderPlaced, OrderRef: "1"}, time.Now()); res.Err == nil || res.StatusCode != 401 {
		t.Errorf("wrong token: %+v; want a 401 failure", res)
	}
	if res := s.Send(ctx, d, domain.Outbound{Type: domain.DownStockChanged, SKU: "X"}, time.Now()); res.Err != nil {
		t.Errorf("stock.changed: %+v; want nothing sent, no failure", res)
	}
}
