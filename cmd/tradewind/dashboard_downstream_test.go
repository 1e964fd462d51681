package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// waitDeliveries waits until the API lists n deliveries of acme-crm in status and returns them.
func waitDeliveries(t *testing.T, m *Main, status string, n int) deliveryList {
	t.Helper()
	var list deliveryList
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/deliveries?destination=acme-crm&status="+status, nil, &list)
		return len(list.Deliveries) == n, fmt.Sprintf("%d %s deliveries listed (%+v)", n, status, list.Deliveries)
	})
	return list
}

// scrape returns GET /metrics.
func scrape(t *testing.T, m *Main) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Through the real ingress, worker and outbox: a delivery a CRM refused until it
// was out of attempts is flagged dead on the overview, listed on the
// Destinations and Deliveries pages and on its order's page, with its attempts;
// Retry and Retry all matching send it again (CSRF-protected, confirmed, bad
// input refused, audited); a disabled destination is enabled by its button; a
// failed and a drifting reconciliation are flagged; published stock shows on its
// SKU's page; the metrics count the dead delivery and the reconciliation's findings.
func TestDashboardDownstreamPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	crm := newCRM(t)
	crm.status.Store(http.StatusInternalServerError)
	m := e.startWithDestinations([]domain.Destination{{ID: "acme-crm", Kind: domain.DestinationWebhook, URL: crm.srv.URL,
		Secrets: []string{crmSecret}, Timeout: 2 * time.Second, MaxAttempts: 1, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		BreakerFailures: 50, BreakerCooldown: time.Second}})

	if r := post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", "evt_dash_down_1", "5101", 2500, newSecret, time.Now())); r.status != http.StatusOK {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	dead := waitDeliveries(t, m, "dead", 1).Deliveries[0]
	for _, q := range []string{
		`INSERT INTO reconciliations (status, since, until, started_at, finished_at, error)
			VALUES ('failed', now() - interval '1 day', now(), now(), now(), 'listing acme-stripe: 401 Unauthorized')`,
		`INSERT INTO reconciliations (status, since, until, started_at, finished_at, sources, stock_drift_fixed)
			VALUES ('completed', now() - interval '1 day', now(), now(), now(),
			'[{"source":"acme-stripe","compared":10,"missing":0,"repaired":0,"mismatched":2,"conflicts":2,"errors":[]}]', 1)`,
		`INSERT INTO published_stock (destination, sku, published, confirmed_at) VALUES ('acme-shop-stock', 'SKU-9', 5, now())`,
	} {
		if _, err := e.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	metrics := scrape(t, m)
	for _, want := range []string{
		`tradewind_deliveries{destination="acme-crm",status="dead"} 1`,
		`tradewind_deliveries{destination="acme-crm",status="pending"} 0`,
		`tradewind_destination_disabled{destination="acme-crm"} 0`,
		`tradewind_reconciliation_last_status{status="completed"} 1`,
		`tradewind_reconciliation_last_status{status="failed"} 0`,
		`tradewind_reconciliation_last_findings{kind="mismatched"} 2`,
		`tradewind_reconciliation_last_findings{kind="stock_drift_fixed"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, "tradewind_reconciliation_last_success_timestamp_seconds 0\n") {
		t.Errorf("/metrics reports no successful reconciliation after a completed one")
	}

	o := newOps(t, m)
	if p := o.get("/ops/deliveries"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ops/login") {
		t.Errorf("deliveries signed out = %d %q, want 303 to the login", p.status, p.location)
	}
	o.login()
	deadLink := `href="/ops/deliveries?destination=acme-crm&amp;status=dead"`
	for _, tc := range []struct {
		name, path string
		status     int
		want       []string
	}{
		{"destinations", "/ops/destinations", http.StatusOK, []string{"acme-crm", "webhook", `class="status-failed" ` + deadLink + `>1</a>`, "closed"}},
		{"overview flags", "/ops/", http.StatusOK, []string{"Needs a person", "dead deliveries", deadLink, "reconciliation failed", "401 Unauthorized",
			"reconciliation found drift", `href="/ops/reconciliations#reconciliation-`, "2 mismatched", "stock drift fixed on 1 SKUs"}},
		{"dead deliveries", "/ops/deliveries?destination=acme-crm&status=dead", http.StatusOK,
			[]string{fmt.Sprintf(`href="/ops/deliveries/%d"`, dead.ID), "order.paid", "500", "Retry all matching", `name="confirm"`}},
		{"deliveries by order ref", "/ops/deliveries?order_ref=5101", http.StatusOK, []string{fmt.Sprintf(`href="/ops/deliveries/%d"`, dead.ID)}},
		{"any delivery: no bulk retry", "/ops/deliveries", http.StatusOK, []string{"choose a destination and the status dead or failed"}},
		{"one delivery", fmt.Sprintf("/ops/deliveries/%d", dead.ID), http.StatusOK,
			[]string{dead.WebhookID, "<td>500</td>", " ms</td>", fmt.Sprintf(`action="/ops/deliveries/%d/retry"`, dead.ID)}},
		{"order page", "/ops/orders?ref=5101", http.StatusOK, []string{"Deliveries downstream", fmt.Sprintf(`href="/ops/deliveries/%d"`, dead.ID)}},
		{"published stock on the SKU page", "/ops/inventory?sku=SKU-9", http.StatusNotFound, []string{"Published to channels", "acme-shop-stock", "<td>5</td>"}},
		{"bad status", "/ops/deliveries?status=lost", http.StatusBadRequest, []string{"lost"}},
		{"unknown destination", "/ops/deliveries?destination=nope", http.StatusBadRequest, []string{"nope"}},
		{"bad after", "/ops/deliveries?after=x", http.StatusBadRequest, []string{"after"}},
		{"bad id", "/ops/deliveries/abc", http.StatusBadRequest, []string{"whole numbers"}},
		{"no such delivery", "/ops/deliveries/999999", http.StatusNotFound, []string{"no delivery 999999"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := o.get(tc.path)
			if p.status != tc.status {
				t.Errorf("GET %s = %d %q, want %d:\n%s", tc.path, p.status, p.location, tc.status, p.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("GET %s lacks %q:\n%s", tc.path, w, p.body)
				}
			}
		})
	}

	// Retry one.
	retry := fmt.Sprintf("/ops/deliveries/%d/retry", dead.ID)
	if p := o.post(retry, url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("retry without the form token = %d, want 403", p.status)
	}
	if p := o.post("/ops/deliveries/999999/retry", url.Values{"csrf": {o.csrf("/ops/deliveries")}}); p.status != http.StatusNotFound {
		t.Errorf("retry of no delivery = %d, want 404", p.status)
	}
	crm.status.Store(http.StatusNoContent)
	if p := o.post(retry, url.Values{"csrf": {o.csrf("/ops/deliveries")}}); p.status != http.StatusSeeOther || !strings.Contains(p.location, "retried=1") {
		t.Fatalf("retry = %d %q %s", p.status, p.location, p.body)
	}
	waitDeliveries(t, m, "delivered", 1)

	// Retry all matching: a second dead delivery, sent again in bulk.
	crm.status.Store(http.StatusInternalServerError)
	post(t, webhookURL(m, testSource), stripeEvent(t, "charge.refunded", "evt_dash_down_2", "5101", 2500, newSecret, time.Now()))
	waitDeliveries(t, m, "dead", 1)
	token := o.csrf("/ops/deliveries?destination=acme-crm&status=dead")
	valid := url.Values{"csrf": {token}, "destination": {"acme-crm"}, "status": {"dead"}, "since": {"1h"}, "confirm": {"yes"}}
	for _, tc := range []struct {
		name   string
		change url.Values
		status int
	}{
		{"no form token", url.Values{"csrf": {"forged"}}, http.StatusForbidden},
		{"not confirmed", url.Values{"confirm": {""}}, http.StatusBadRequest},
		{"delivered is not retried in bulk", url.Values{"status": {"delivered"}}, http.StatusBadRequest},
		{"unknown destination", url.Values{"destination": {"nope"}}, http.StatusBadRequest},
		{"bad since", url.Values{"since": {"yesterday"}}, http.StatusBadRequest},
		{"empty window", url.Values{"since": {"2026-01-02T00:00:00Z"}, "until": {"2026-01-01T00:00:00Z"}}, http.StatusBadRequest},
	} {
		t.Run("retry all: "+tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range valid {
				form[k] = v
			}
			for k, v := range tc.change {
				form[k] = v
			}
			if p := o.post("/ops/deliveries/retry", form); p.status != tc.status {
				t.Errorf("POST = %d, want %d:\n%s", p.status, tc.status, p.body)
			}
		})
	}
	waitDeliveries(t, m, "dead", 1) // nothing above retried it
	crm.status.Store(http.StatusNoContent)
	if p := o.post("/ops/deliveries/retry", valid); p.status != http.StatusSeeOther || !strings.Contains(p.location, "queued=1") {
		t.Fatalf("retry all matching = %d %q %s", p.status, p.location, p.body)
	}
	waitDeliveries(t, m, "dead", 0)

	// A destination a 410 disabled is enabled by its button.
	if _, err := e.db.Exec(`INSERT INTO destinations (id, disabled_reason, disabled_at) VALUES ('acme-crm', 'answered 410 Gone', now())
		ON CONFLICT (id) DO UPDATE SET disabled_reason = EXCLUDED.disabled_reason, disabled_at = EXCLUDED.disabled_at`); err != nil {
		t.Fatal(err)
	}
	if p := o.get("/ops/destinations"); !strings.Contains(p.body, "answered 410 Gone") || !strings.Contains(p.body, `action="/ops/destinations/acme-crm/enable"`) {
		t.Errorf("destinations page lacks the reason or the Enable button:\n%s", p.body)
	}
	if p := o.get("/ops/"); !strings.Contains(p.body, "destination disabled") || !strings.Contains(p.body, `href="/ops/destinations#destination-acme-crm"`) {
		t.Errorf("overview does not flag the disabled destination:\n%s", p.body)
	}
	if p := o.post("/ops/destinations/acme-crm/enable", url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("enable without the form token = %d, want 403", p.status)
	}
	token = o.csrf("/ops/destinations")
	if p := o.post("/ops/destinations/nope/enable", url.Values{"csrf": {token}}); p.status != http.StatusNotFound || !strings.Contains(p.body, "nope") {
		t.Errorf("enable an unknown destination = %d, want 404 naming it:\n%s", p.status, p.body)
	}
	if p := o.post("/ops/destinations/acme-crm/enable", url.Values{"csrf": {token}}); p.status != http.StatusSeeOther {
		t.Fatalf("enable = %d %s", p.status, p.body)
	}
	var dests destinationList
	if api(t, m, http.MethodGet, "/api/v1/destinations", nil, &dests); len(dests.Destinations) != 1 || !dests.Destinations[0].Enabled {
		t.Errorf("after Enable: %+v, want acme-crm enabled", dests)
	}

	audit := o.get("/ops/audit").body
	for _, want := range []string{
		fmt.Sprintf("<td>api-token</td><td>retry_delivery</td><td>delivery %d</td><td>acme-crm</td>", dead.ID),
		"<td>api-token</td><td>retry_deliveries</td><td>destination acme-crm</td><td>1 queued; status=dead",
		"<td>api-token</td><td>enable_destination</td><td>destination acme-crm</td>",
	} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit trail lacks %s:\n%s", want, audit)
		}
	}
}
