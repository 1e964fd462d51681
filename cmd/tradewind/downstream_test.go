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

	"github.com/google/go-cmp/cmp"
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

func TestParseDestinations(t *testing.T) {
	env := envMap(map[string]string{"CRM_SECRET": crmSecret})
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"valid", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://crm.example.com/h\n    secrets: [env:CRM_SECRET]\n    events: [order.paid]\n    timeout: 5s\n    rate_limit: 20\n    max_attempts: 12\n    min_backoff: 5s\n    max_backoff: 1h\n", ""},
		{"none", "sources: []\n", ""},
		{"hubspot", "destinations:\n  - id: hs\n    kind: hubspot\n    token: env:CRM_SECRET\n", ""},
		{"shopify_inventory", "destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: gid://shopify/Location/1\n    safety_buffer: 2\n    max_published: 50\n    debounce: 3s\n", ""},
		{"shopify_inventory without location", "destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: acme-shopify\n", "location_id:"},
		{"shopify_inventory negative buffer", "destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: s\n    location_id: l\n    safety_buffer: -1\n", "safety_buffer: -1 is out of range"},
		{"sku overrides", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {safety_buffer: 10, max_published: 5}\n      \"123\": {max_published: 0}\n", ""},
		{"sku override unknown key", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {safety_bufer: 10}\n", "destinations[0] (acme-shop-stock): skus: HOT-1: safety_bufer: unknown key; valid keys: safety_buffer, max_published"},
		{"sku override negative", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {max_published: -5}\n", "skus: HOT-1: max_published: -5 is out of range"},
		{"sku override not a number", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {safety_buffer: lots}\n", "skus: HOT-1: safety_buffer: must be a number"},
		{"sku override fraction", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {safety_buffer: 2.5}\n", "skus: HOT-1: safety_buffer: 2.5 is not a whole number"},
		{"sku override empty", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {}\n", "skus: HOT-1: give safety_buffer and/or max_published"},
		{"sku override not a map", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: 10\n", "skus: HOT-1: give safety_buffer and/or max_published"},
		{"skus not a map", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      - HOT-1\n", "skus: must map each SKU to its own keys"},
		{"sku unquoted number", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      123: {max_published: 0}\n", "skus: SKU 123 must be a string; quote it"},
		{"skus on a webhook", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n    skus: {A: {max_published: 1}}\n", "skus: unknown key for kind webhook"},
		{"hubspot without token", "destinations:\n  - id: hs\n    kind: hubspot\n", "token: give the private app's access token"},
		{"hubspot with a webhook key", "destinations:\n  - id: hs\n    kind: hubspot\n    token: t\n    url: https://x.example/\n", "url: unknown key for kind hubspot"},
		{"unknown key", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n    retries: 3\n", "destinations[0] (crm): retries: unknown key"},
		{"unknown kind", "destinations:\n  - id: crm\n    kind: fax\n", `kind: "fax" is not supported`},
		{"bad event", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n    events: [order.shipped]\n", `events: "order.shipped" is not an event type`},
		{"bad secret", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [plain]\n", "secrets[0]: not a Standard Webhooks secret"},
		{"bad duration", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n    timeout: soon\n", `timeout: "soon" is not a duration`},
		{"no url", "destinations:\n  - id: crm\n    kind: webhook\n    secrets: [" + crmSecret + "]\n", "url:"},
		{"missing env", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [env:NOPE]\n", "environment variable NOPE is not set"},
		{"duplicate id", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n", "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDestinations("s.yaml", []byte(tt.yaml), env)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// A stock destination's safety_buffer and max_published, and each SKU's own
// under skus, are parsed into the destination's policies.
func TestParseDestinationsStockPolicies(t *testing.T) {
	y := "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n" +
		"    safety_buffer: 2\n    max_published: 50\n    skus:\n      HOT-1: {safety_buffer: 10, max_published: 5}\n      COLD-2: {max_published: 0}\n"
	dests, err := ParseDestinations("s.yaml", []byte(y), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	n := func(v int64) *int64 { return &v }
	want := []domain.StockPolicy{{SafetyBuffer: 2, MaxPublished: n(50)}, {SafetyBuffer: 10, MaxPublished: n(5)}, {SafetyBuffer: 2, MaxPublished: n(0)}}
	var got []domain.StockPolicy
	for _, sku := range []string{"MUG", "HOT-1", "COLD-2"} {
		got = append(got, dests[0].StockPolicyOf(sku))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policies of MUG, HOT-1, COLD-2 (-want +got):\n%s", diff)
	}
	plain, err := ParseDestinations("s.yaml", []byte("destinations:\n  - id: s\n    kind: shopify_inventory\n    source: a\n    location_id: l\n"), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(domain.StockPolicy{}, plain[0].StockPolicyOf("MUG")); diff != "" {
		t.Errorf("no buffer, no cap (-want +got):\n%s", diff)
	}
}

func TestResolveDestinationsChecksTheStockSource(t *testing.T) {
	parse := func(y string) []domain.Destination {
		d, err := ParseDestinations("s.yaml", []byte(y), envMap(nil))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	sources := testSources()
	src := sources[shopifySource]
	src.Settings = map[string]string{"shop_domain": "acme.myshopify.com", "admin_token": "shpat_x"}
	sources[shopifySource] = src
	ok := parse("destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: gid://shopify/Location/1\n")
	if err := ResolveDestinations("s.yaml", ok, sources); err != nil || ok[0].Settings["admin_token"] != "shpat_x" {
		t.Errorf("resolve: %v %v; want the source's admin_token taken", err, ok[0].Settings)
	}
	bad := parse("destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: acme-stripe\n    location_id: gid://shopify/Location/1\n")
	if err := ResolveDestinations("s.yaml", bad, sources); err == nil || !strings.Contains(err.Error(), `source: "acme-stripe" is not a shopify source`) {
		t.Errorf("a stripe source: %v", err)
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
