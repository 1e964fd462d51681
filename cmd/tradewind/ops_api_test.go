package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/powertranz"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

type namedList struct {
	Webhooks []struct {
		Kind             string `json:"kind"`
		Status           string `json:"status"`
		Cause            string `json:"cause"`
		OrderRef         string `json:"order_ref"`
		OrderRefVerified bool   `json:"order_ref_verified"`
	} `json:"webhooks"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// "The customer says they paid": before any worker applies it, an order is found
// through the webhook that names it (queued) and a forged request that names it
// (rejected, unverified); its 404 says so. Once applied, the webhook is listed
// as naming it, verified.
func TestWebhooksNamingAnOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true}) // no worker: the webhook waits queued

	e.send(m, delivery{testSource, "payment_intent.succeeded", webhookOptions("7777", 500)})
	forged := stripeEvent(t, "payment_intent.succeeded", "evt_forged_7777", "7777", 500, "whsec_wrong", time.Now())
	if r := post(t, webhookURL(m, testSource), forged); r.status != http.StatusUnauthorized {
		t.Fatalf("forged request = %d, want 401", r.status)
	}

	var notFound apiError
	if code := api(t, m, http.MethodGet, "/api/v1/orders/7777", nil, &notFound); code != http.StatusNotFound ||
		!strings.Contains(notFound.Error.Message, "2 webhooks name it: 1 queued, 1 rejected") {
		t.Errorf("GET order = %d %q, want 404 saying 2 webhooks name it: 1 queued, 1 rejected", code, notFound.Error.Message)
	}
	var got namedList
	if code := api(t, m, http.MethodGet, "/api/v1/webhooks?order_ref=7777", nil, &got); code != http.StatusOK {
		t.Fatalf("GET webhooks?order_ref = %d", code)
	}
	type item struct{ Kind, Status, Cause, Ref string }
	var items []item
	for _, w := range got.Webhooks {
		items = append(items, item{w.Kind, w.Status, w.Cause, w.OrderRef})
	}
	want := []item{{"rejection", "rejected", "verification_failed", "7777"}, {"webhook", "received", "", "7777"}}
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("requests naming 7777 (-want +got):\n%s", diff)
	}
	if code := api(t, m, http.MethodGet, "/api/v1/webhooks?order_ref=nothing-names-this", nil, &got); code != http.StatusOK || len(got.Webhooks) != 0 {
		t.Errorf("webhooks naming an unknown order = %d %+v, want 200 and none", code, got.Webhooks)
	}

	e.start(e.config(), Roles{Work: true})
	waitPaymentStatus(t, m, "7777", "paid", 15*time.Second)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/webhooks?order_ref=7777&status=applied", nil, &got)
		return len(got.Webhooks) == 1 && got.Webhooks[0].OrderRefVerified, fmt.Sprintf("the applied webhook, verified (have %+v)", got.Webhooks)
	})
}

// Unknown query parameters are refused on every list endpoint, naming the
// parameter and the ones the endpoint takes.
func TestListEndpointsRefuseUnknownParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	for _, tc := range []struct{ name, path, param, valid string }{
		{"orders", "/api/v1/orders?stauts=paid", "stauts", "payment_status"},
		{"inventory", "/api/v1/inventory?trackd=true", "trackd", "tracked"},
		{"webhooks", "/api/v1/webhooks?ordr_ref=1", "ordr_ref", "order_ref"},
		{"conflicts", "/api/v1/conflicts?sate=open", "sate", "state"},
		{"bad limit", "/api/v1/orders?limit=lots", "limit", "1000"},
		{"bad cursor", "/api/v1/orders?after=zzz", "after", "next"},
		{"bad tracked", "/api/v1/inventory?tracked=maybe", "tracked", "true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body apiError
			code := api(t, m, http.MethodGet, tc.path, nil, &body)
			if code != http.StatusBadRequest || !strings.Contains(body.Error.Message, tc.param) || !strings.Contains(body.Error.Message, tc.valid) {
				t.Errorf("GET %s = %d %q, want 400 naming %q and %q", tc.path, code, body.Error.Message, tc.param, tc.valid)
			}
		})
	}
}

// Orders and inventory list in pages by key, with filters; an untracked SKU (one
// an order named but whose level nobody set) says so.
func TestOrderAndInventoryLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	for _, ref := range []string{"5001", "5002", "5003"} {
		e.send(m, delivery{testSource, "payment_intent.succeeded", webhookOptions(ref, 100)})
		waitPaymentStatus(t, m, ref, "paid", 15*time.Second)
	}
	var seen []string
	path := "/api/v1/orders?payment_status=paid&limit=2"
	for page := 0; page < 5 && path != ""; page++ {
		var list struct {
			Orders []struct{ Ref string } `json:"orders"`
			Next   *string                `json:"next"`
		}
		if code := api(t, m, http.MethodGet, path, nil, &list); code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, code)
		}
		for _, o := range list.Orders {
			seen = append(seen, o.Ref)
		}
		path = ""
		if list.Next != nil {
			path = "/api/v1/orders?payment_status=paid&limit=2&after=" + *list.Next
		}
	}
	if diff := cmp.Diff([]string{"5003", "5002", "5001"}, seen); diff != "" {
		t.Errorf("orders paged (-want +got):\n%s", diff)
	}

	if code := api(t, m, http.MethodPut, "/api/v1/inventory/SKU-SET", map[string]int{"on_hand": 3}, nil); code != http.StatusOK {
		t.Fatalf("PUT inventory = %d", code)
	}
	if _, err := e.db.Exec(`INSERT INTO inventory (sku) VALUES ('SKU-UNSET')`); err != nil {
		t.Fatal(err)
	}
	type row struct {
		SKU       string `json:"sku"`
		Available int64  `json:"available"`
		Tracked   bool   `json:"tracked"`
	}
	for _, tc := range []struct {
		name, query string
		want        []row
	}{
		{"all", "", []row{{"SKU-SET", 3, true}, {"SKU-UNSET", 0, false}}},
		{"untracked", "?tracked=false", []row{{"SKU-UNSET", 0, false}}},
		{"below", "?below=1", []row{{"SKU-UNSET", 0, false}}},
		{"after", "?after=SKU-SET", []row{{"SKU-UNSET", 0, false}}},
	} {
		var list struct {
			Inventory []row `json:"inventory"`
		}
		if code := api(t, m, http.MethodGet, "/api/v1/inventory"+tc.query, nil, &list); code != http.StatusOK {
			t.Fatalf("%s: %d", tc.name, code)
		}
		if diff := cmp.Diff(tc.want, list.Inventory); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// Issue 13's case: a PowerTranz callback for order 7777 is stored, then rejected
// because the gateway does not confirm it. The order's 404 and the webhooks API
// both point to it.
func TestUnconfirmedPowerTranzPaymentIsFoundByOrderRef(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gateway := httptest.NewServer(powertranz.NewFakeGateway()) // confirms nothing
	t.Cleanup(gateway.Close)
	src := domain.Source{ID: "acme-powertranz", Provider: powertranz.Kind, Secrets: []string{"pt-password"},
		Settings: map[string]string{powertranz.SettingAPIBaseURL: gateway.URL, powertranz.SettingID: "88800001"}}
	m := NewMain(e.config(), map[string]domain.Source{src.ID: src}, testLogger())
	if err := m.Run(context.Background(), Roles{Serve: true, Work: true, Migrate: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	req, err := powertranz.Provider{}.Sample(src, powertranz.EventCallback, webhook.SampleOptions{OrderRef: "7777", Amount: 1500, Currency: "USD", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if r := post(t, webhookURL(m, src.ID), req); r.status != http.StatusOK {
		t.Fatalf("callback = %d %s", r.status, r.body)
	}
	var got namedList
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/webhooks?order_ref=7777", nil, &got)
		return len(got.Webhooks) == 1 && got.Webhooks[0].Status == "rejected", fmt.Sprintf("the callback, rejected (have %+v)", got.Webhooks)
	})
	if w := got.Webhooks[0]; w.Kind != "webhook" || w.OrderRef != "7777" || w.OrderRefVerified {
		t.Errorf("listed as %+v, want the stored webhook naming 7777, unverified", w)
	}
	var notFound apiError
	if code := api(t, m, http.MethodGet, "/api/v1/orders/7777", nil, &notFound); code != http.StatusNotFound ||
		!strings.Contains(notFound.Error.Message, "1 webhook names it: 1 rejected") {
		t.Errorf("GET order = %d %q, want 404 saying 1 webhook names it: 1 rejected", code, notFound.Error.Message)
	}
	if n := e.count(`SELECT count(*) FROM rejections WHERE order_ref = '7777' AND cause = 'not_confirmed'`); n != 1 {
		t.Errorf("not_confirmed rejections naming 7777 = %d, want 1", n)
	}
}
