package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

const crmSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// crmReceiver is a Standard Webhooks receiver verifying with the official Go library.
type crmReceiver struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []crmMessage
}

type crmMessage struct {
	ID       string
	Type     string
	Ref      string
	Verified error
}

func newCRM(t *testing.T) *crmReceiver {
	wh, err := standardwebhooks.NewWebhook(crmSecret)
	if err != nil {
		t.Fatal(err)
	}
	c := &crmReceiver{}
	c.status.Store(http.StatusNoContent)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct {
			Type string `json:"type"`
			Data struct {
				Ref string `json:"ref"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &msg)
		c.mu.Lock()
		c.got = append(c.got, crmMessage{ID: r.Header.Get("webhook-id"), Type: msg.Type, Ref: msg.Data.Ref, Verified: wh.Verify(body, r.Header)})
		c.mu.Unlock()
		w.WriteHeader(int(c.status.Load()))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *crmReceiver) messages() []crmMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]crmMessage(nil), c.got...)
}

func (e *env) startWithDestinations(dests []domain.Destination, roles ...Roles) *Main {
	e.t.Helper()
	m := NewMain(e.config(), testSources(), testLogger())
	m.Destinations = dests
	r := Roles{Serve: true, Work: true, Schedule: true}
	if len(roles) > 0 {
		r = roles[0]
	}
	r.Migrate = true
	if err := m.Run(context.Background(), r); err != nil {
		m.Close(context.Background())
		e.t.Fatalf("Run: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return m
}

type deliveryList struct {
	Deliveries []struct {
		ID        int64  `json:"id"`
		EventType string `json:"event_type"`
		WebhookID string `json:"webhook_id"`
		Status    string `json:"status"`
		Attempts  int    `json:"attempts"`
	} `json:"deliveries"`
}

type destinationList struct {
	Destinations []struct {
		ID             string `json:"id"`
		Kind           string `json:"kind"`
		Enabled        bool   `json:"enabled"`
		DisabledReason string `json:"disabled_reason"`
		Breaker        string `json:"breaker"`
	} `json:"destinations"`
}

// Through the real ingress and worker: a payment webhook becomes one signed
// order.paid delivery that the official Standard Webhooks library accepts; the
// same webhook again makes no second delivery; the API lists the destination and
// the delivery and replays it in bulk with the same webhook-id; a 410 disables
// the destination until it is enabled through the API.
func TestDeliveriesEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	crm := newCRM(t)
	m := e.startWithDestinations([]domain.Destination{{ID: "acme-crm", Kind: domain.DestinationWebhook, URL: crm.srv.URL,
		Secrets: []string{crmSecret}, Timeout: 2 * time.Second, MaxAttempts: 5, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		BreakerFailures: 50, BreakerCooldown: time.Second}})

	req := stripeEvent(t, "payment_intent.succeeded", "evt_down_1", "5001", 2500, newSecret, time.Now())
	if r := post(t, webhookURL(m, testSource), req); r.status != http.StatusOK {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	waitPaymentStatus(t, m, "5001", "paid", 20*time.Second)
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		return len(crm.messages()) == 1, "one delivery at the CRM"
	})
	first := crm.messages()[0]
	if first.Type != "order.paid" || first.Ref != "5001" || first.Verified != nil {
		t.Fatalf("delivery %+v; want order.paid for 5001, verified", first)
	}
	// The same webhook again (a provider retry): applied once, delivered once.
	if r := post(t, webhookURL(m, testSource), req); r.status != http.StatusOK {
		t.Fatalf("duplicate webhook: %d %s", r.status, r.body)
	}
	var list deliveryList
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/deliveries?destination=acme-crm", nil, &list)
		return len(list.Deliveries) == 1 && list.Deliveries[0].Status == "delivered", fmt.Sprintf("one delivered delivery listed (%+v)", list)
	})
	var one struct {
		Attempts []struct {
			StatusCode int `json:"status_code"`
		} `json:"attempts"`
	}
	if code := api(t, m, http.MethodGet, fmt.Sprintf("/api/v1/deliveries/%d", list.Deliveries[0].ID), nil, &one); code != 200 ||
		len(one.Attempts) != 1 || one.Attempts[0].StatusCode != 204 {
		t.Errorf("GET delivery: %d %+v; want one 204 attempt", code, one)
	}
	var dests destinationList
	if code := api(t, m, http.MethodGet, "/api/v1/destinations", nil, &dests); code != 200 || len(dests.Destinations) != 1 ||
		!dests.Destinations[0].Enabled || dests.Destinations[0].Breaker != "closed" {
		t.Errorf("GET destinations: %d %+v", code, dests)
	}

	// Bulk replay: delivered once more, with the same webhook-id.
	var queued struct {
		Queued int `json:"queued"`
	}
	if code := api(t, m, http.MethodPost, "/api/v1/deliveries/retry", map[string]any{"destination": "acme-crm", "status": "delivered"}, &queued); code != 202 || queued.Queued != 1 {
		t.Fatalf("bulk retry: %d %+v", code, queued)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { return len(crm.messages()) == 2, "the replay at the CRM" })
	if again := crm.messages()[1]; again.ID != first.ID || again.Verified != nil {
		t.Errorf("replay %+v; want webhook-id %s, verified", again, first.ID)
	}

	// 410: disabled with a reason, until enabled.
	crm.status.Store(http.StatusGone)
	post(t, webhookURL(m, testSource), stripeEvent(t, "charge.refunded", "evt_down_2", "5001", 2500, newSecret, time.Now()))
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/destinations", nil, &dests)
		return len(dests.Destinations) == 1 && !dests.Destinations[0].Enabled, "the destination disabled after a 410"
	})
	if !strings.Contains(dests.Destinations[0].DisabledReason, "410") {
		t.Errorf("disabled_reason %q; want it to say 410", dests.Destinations[0].DisabledReason)
	}
	crm.status.Store(http.StatusOK)
	if code := api(t, m, http.MethodPost, "/api/v1/destinations/acme-crm/enable", nil, nil); code != 200 {
		t.Fatalf("enable: %d", code)
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/deliveries?destination=acme-crm", nil, &list)
		for _, d := range list.Deliveries {
			if d.Status != "delivered" {
				return false, fmt.Sprintf("every delivery delivered after the destination was enabled (%+v)", list.Deliveries)
			}
		}
		return true, ""
	})
	// Retry one: delivered once more, with its id.
	before1 := len(crm.messages())
	var retried struct {
		WebhookID string `json:"webhook_id"`
		Status    string `json:"status"`
	}
	if code := api(t, m, http.MethodPost, fmt.Sprintf("/api/v1/deliveries/%d/retry", list.Deliveries[0].ID), nil, &retried); code != 202 ||
		retried.Status != "pending" || retried.WebhookID != list.Deliveries[0].WebhookID {
		t.Fatalf("retry one: %d %+v", code, retried)
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		return len(crm.messages()) == before1+1, "the retried delivery at the CRM"
	})
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/deliveries?destination=acme-crm&status=pending", nil, &list)
		return len(list.Deliveries) == 0, "nothing pending"
	})

	// tradewind replay deliveries: the same, from the command line.
	before := len(crm.messages())
	var out strings.Builder
	if err := runReplayDeliveries(context.Background(), &out, e.config(), "acme-crm", domain.DeliveryDelivered, time.Now().Add(-time.Hour), time.Time{}); err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscanf(out.String(), "queued %d", &n); err != nil || n < 1 {
		t.Fatalf("replay deliveries said %q; want some queued", out.String())
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		return len(crm.messages()) == before+n, fmt.Sprintf("%d replays at the CRM", n)
	})
	for path, want := range map[string]int{
		"/api/v1/deliveries?status=lost":      400,
		"/api/v1/deliveries?destination=nope": 400,
		"/api/v1/deliveries/999999":           404,
		"/api/v1/destinations/nope/enable":    404,
	} {
		method := http.MethodGet
		if strings.HasSuffix(path, "/enable") {
			method = http.MethodPost
		}
		if code := api(t, m, method, path, nil, nil); code != want {
			t.Errorf("%s %s: %d, want %d", method, path, code, want)
		}
	}
}

// A worker SIGKILLed in the middle of a delivery loses nothing: the delivery row
// was committed with the payment, and once the dead worker's lease runs out the
// task is handed to another worker, which delivers it with the same webhook-id.
func TestKilledWorkerLosesNoDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	var hits atomic.Int32
	wh, _ := standardwebhooks.NewWebhook(crmSecret)
	var mu sync.Mutex
	var ids []string
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		ids = append(ids, r.Header.Get("webhook-id"))
		mu.Unlock()
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if hits.Add(1) == 1 {
			<-release // the first attempt hangs until its worker is dead
		}
	}))
	t.Cleanup(crm.Close)
	t.Cleanup(func() { close(release) })
	dest := domain.Destination{ID: "acme-crm", Kind: domain.DestinationWebhook, URL: crm.URL, Secrets: []string{crmSecret},
		Timeout: time.Minute, MaxAttempts: 5, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		BreakerFailures: 50, BreakerCooldown: time.Second}
	m := e.startWithDestinations([]domain.Destination{dest}, Roles{Serve: true, Schedule: true}) // the worker is a process we can kill
	sources := filepath.Join(t.TempDir(), "sources.yaml")
	yaml := fmt.Sprintf("sources:\n  - id: %s\n    provider: stripe\n    secrets: [%q, %q]\ndestinations:\n  - id: acme-crm\n    kind: webhook\n    url: %s\n    secrets: [%q]\n    timeout: 1m\n",
		testSource, newSecret, oldSecret, crm.URL, crmSecret)
	if err := os.WriteFile(sources, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	worker := exec.Command(os.Args[0], "-test.run=^$")
	worker.Env = append(os.Environ(), "TRADEWIND_TEST_CHILD=work", "TRADEWIND_DATABASE_URL="+e.dbURL, "TRADEWIND_REDIS_URL="+e.redis.URL(),
		"TRADEWIND_API_TOKEN="+testToken, "TRADEWIND_SOURCES_FILE="+sources, "TRADEWIND_LOG_LEVEL=warn")
	if os.Getenv("TRADEWIND_TEST_LOG") != "" {
		worker.Stdout, worker.Stderr = os.Stderr, os.Stderr
	}
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = worker.Process.Kill(); _ = worker.Wait() })

	if r := post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", "evt_kill_d1", "7101", 1200, newSecret, time.Now())); r.status != http.StatusOK {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) { return hits.Load() == 1, "the first delivery attempt in flight" })
	if err := worker.Process.Kill(); err != nil { // SIGKILL mid-delivery
		t.Fatal(err)
	}
	_ = worker.Wait()

	e.startWorkerWith([]domain.Destination{dest})
	testenv.Eventually(t, 3*time.Minute, func() (bool, string) {
		return e.count(`SELECT count(*) FROM deliveries WHERE status = 'delivered'`) == 1, "the delivery delivered by the new worker"
	})
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("webhook-ids %v; want one id on every attempt", ids)
		}
	}
}

func (e *env) startWorkerWith(dests []domain.Destination) {
	e.t.Helper()
	m := NewMain(e.config(), testSources(), testLogger())
	m.Destinations = dests
	if err := m.Run(context.Background(), Roles{Work: true}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
}
