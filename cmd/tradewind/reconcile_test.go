package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

func apiCall(t *testing.T, m *Main, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+m.Addr()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestReconciliationThroughTheAPI: of two Stripe payments one never arrived as
// a webhook. POST /api/v1/reconciliations answers 202 at once, the worker runs
// it, its report says one repaired, and the order's events show the repaired
// one with origin reconciliation beside the webhook's.
func TestReconciliationThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fake := &stripe.FakeAPI{Key: "sk_test_e2e"}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	sources := testSources()
	src := sources[testSource]
	src.Settings = map[string]string{"api_key": "sk_test_e2e", "api_base_url": srv.URL}
	sources[testSource] = src

	m := NewMain(e.config(), sources, testLogger())
	if err := m.Run(context.Background(), Roles{Serve: true, Work: true, Migrate: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})

	at := time.Now().Add(-2 * time.Minute)
	delivered := stripeEvent(t, "payment_intent.succeeded", "evt_rec_1", "7001", 2500, newSecret, at)
	missed := stripeEvent(t, "charge.refunded", "evt_rec_2", "7001", 2500, newSecret, at.Add(time.Minute))
	fake.AddEvent(delivered.Body)
	fake.AddEvent(missed.Body)
	if r := post(t, webhookURL(m, testSource), delivered); r.status != http.StatusOK {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	waitPaymentStatus(t, m, "7001", "paid", 10*time.Second)

	for _, bad := range []string{`{}`, `{"since":"yesterday"}`, `{"since":"24h","sources":["nope"]}`} {
		if st, b := apiCall(t, m, http.MethodPost, "/api/v1/reconciliations", bad); st != http.StatusBadRequest || !bytes.Contains(b, []byte(`"message"`)) {
			t.Errorf("POST %s = %d %s; want 400 with a message", bad, st, b)
		}
	}
	st, b := apiCall(t, m, http.MethodPost, "/api/v1/reconciliations", `{"since":"24h"}`)
	var started struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(b, &started); st != http.StatusAccepted || err != nil || started.Status != "running" || started.ID == 0 {
		t.Fatalf("POST = %d %s; want 202 {id, status: running}", st, b)
	}
	var rec domain.Reconciliation
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		st, b := apiCall(t, m, http.MethodGet, fmt.Sprintf("/api/v1/reconciliations/%d", started.ID), "")
		rec = domain.Reconciliation{}
		_ = json.Unmarshal(b, &rec)
		return st == http.StatusOK && rec.Status != domain.ReconRunning, fmt.Sprintf("reconciliation finished (now %d %s)", st, b)
	})
	if rec.Status != domain.ReconCompleted || len(rec.Sources) != 1 || rec.Sources[0].Repaired != 1 || rec.Sources[0].Missing != 1 || rec.FinishedAt == nil {
		t.Errorf("report %+v; want completed, one source with one missing event repaired", rec)
	}
	o := waitPaymentStatus(t, m, "7001", "refunded", 10*time.Second)
	_, b = apiCall(t, m, http.MethodGet, "/api/v1/orders/7001", "")
	var order struct {
		Events []struct {
			EventID string `json:"event_id"`
			Origin  string `json:"origin"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &order); err != nil {
		t.Fatal(err)
	}
	origins := map[string]string{}
	for _, ev := range order.Events {
		origins[ev.EventID] = ev.Origin
	}
	if origins["evt_rec_1"] != "webhook" || origins["evt_rec_2"] != "reconciliation" {
		t.Errorf("order %s events' origins %v; want evt_rec_1 webhook, evt_rec_2 reconciliation", o.Ref, origins)
	}
	// The late webhook of the repaired event is a duplicate.
	if r := post(t, webhookURL(m, testSource), missed); r.status != http.StatusOK {
		t.Errorf("late webhook: %d %s", r.status, r.body)
	}
	if n := e.count(`SELECT count(*) FROM inbox WHERE event_id = 'evt_rec_2'`); n != 1 {
		t.Errorf("%d inbox rows for the repaired event after its late webhook; want 1", n)
	}
	st, b = apiCall(t, m, http.MethodGet, "/api/v1/reconciliations", "")
	if st != http.StatusOK || !bytes.Contains(b, []byte(fmt.Sprintf(`"id":%d`, started.ID))) {
		t.Errorf("GET /api/v1/reconciliations = %d %s; want the run listed", st, b)
	}
	o2 := newOps(t, m)
	o2.login()
	if p := o2.get("/ops/reconciliations"); p.status != http.StatusOK || !strings.Contains(p.body, fmt.Sprintf(`id="reconciliation-%d"`, started.ID)) {
		t.Errorf("GET /ops/reconciliations = %d; want the run listed:\n%s", p.status, p.body)
	}
}
