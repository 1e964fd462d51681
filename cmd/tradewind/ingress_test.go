package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/internal/testenv"
)

func TestSignedPaymentIsStoredAppliedAndVisible(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)

	r := post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", "evt_e2e_1", "1001", 2500, newSecret, time.Now()))
	if r.status != http.StatusOK {
		t.Fatalf("POST = %d %s, want 200", r.status, r.body)
	}
	if n := e.count(`SELECT count(*) FROM inbox WHERE source = $1 AND event_id = 'evt_e2e_1'`, testSource); n != 1 {
		t.Fatalf("inbox rows right after the 200 = %d, want 1: the answer came before the commit", n)
	}
	o := waitPaymentStatus(t, m, "1001", "paid", 10*time.Second)
	if o.Status != "pending" || o.Currency != "USD" || len(o.Events) != 1 || o.Events[0].EventID != "evt_e2e_1" {
		t.Errorf("order = %+v, want a pending order (payment before order) in USD with one PaymentSucceeded", o)
	}
	var captured int64
	if err := e.db.Get(&captured, `SELECT captured FROM payments WHERE ref = 'pi_sim_1001'`); err != nil || captured != 2500 {
		t.Errorf("payment captured = %d (%v), want 2500", captured, err)
	}

	// Then a refund of the whole amount, through the same path.
	r = post(t, webhookURL(m, testSource), stripeEvent(t, "charge.refunded", "evt_e2e_2", "1001", 2500, newSecret, time.Now()))
	if r.status != http.StatusOK {
		t.Fatalf("refund POST = %d %s", r.status, r.body)
	}
	waitPaymentStatus(t, m, "1001", "refunded", 10*time.Second)
}

func TestConcurrentDuplicatesStoreOneRowAndApplyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	req := stripeEvent(t, "payment_intent.succeeded", "evt_dup_1", "2001", 1999, newSecret, time.Now())

	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = post(t, webhookURL(m, testSource), req).status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("delivery %d answered %d, want 200", i, s)
		}
	}
	waitPaymentStatus(t, m, "2001", "paid", 10*time.Second)
	if n := e.count(`SELECT count(*) FROM inbox`); n != 1 {
		t.Errorf("inbox rows = %d, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM applied_events`); n != 1 {
		t.Errorf("applied events = %d, want 1", n)
	}
	if n := e.count(`SELECT attempts FROM inbox`); n != 1 {
		t.Errorf("apply transactions committed for the entry = %d, want 1", n)
	}
}

func TestBadDeliveriesAreRejectedAndRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	now := time.Now()
	good := stripeEvent(t, "payment_intent.succeeded", "evt_bad_1", "3001", 1000, newSecret, now)

	tampered := good
	tampered.Body = bytes.Replace(good.Body, []byte(`"amount":1000`), []byte(`"amount":9000`), 1)
	noHeader := webhook.Request{Header: http.Header{"Content-Type": {"application/json"}}, Body: good.Body}
	garbage := stripeEvent(t, "payment_intent.succeeded", "evt_bad_2", "3001", 1000, newSecret, now)
	garbage.Body = []byte(`{not json`)
	garbage.Header.Set("Stripe-Signature", webhook.SignTimestamped(newSecret, now.Unix(), garbage.Body))

	tests := []struct {
		name   string
		source string
		req    webhook.Request
		status int
		cause  string
	}{
		{"tampered body", testSource, tampered, 401, "verification_failed"},
		{"wrong secret", testSource, stripeEvent(t, "payment_intent.succeeded", "evt_bad_3", "3001", 1000, "whsec_wrong", now), 401, "verification_failed"},
		{"timestamp 10 minutes old", testSource, stripeEvent(t, "payment_intent.succeeded", "evt_bad_4", "3001", 1000, newSecret, now.Add(-10*time.Minute)), 401, "verification_failed"},
		{"missing signature header", testSource, noHeader, 401, "verification_failed"},
		{"unknown source", "nobody", good, 404, "unknown_source"},
		{"signed but unparsable", testSource, garbage, 400, "unparsable"},
		{"body over the limit", testSource, webhook.Request{Header: good.Header, Body: bytes.Repeat([]byte("x"), 65<<10)}, 413, "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, webhookURL(m, tt.source), tt.req)
			if r.status != tt.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
			}
			if !strings.Contains(r.body, `"message"`) {
				t.Errorf("error body %s does not explain itself", r.body)
			}
			testenv.Eventually(t, 5*time.Second, func() (bool, string) {
				return e.count(`SELECT count(*) FROM rejections WHERE cause = $1 AND source = $2`, tt.cause, tt.source) > 0,
					"a rejection recorded with cause " + tt.cause
			})
		})
	}
	if n := e.count(`SELECT count(*) FROM inbox`); n != 0 {
		t.Errorf("inbox rows = %d after only bad deliveries, want 0", n)
	}
	if n := e.count(`SELECT count(*) FROM rejections WHERE detail LIKE '%whsec_%'`); n != 0 {
		t.Errorf("%d rejections mention a secret", n)
	}
	if _, ok := getOrder(t, m, "3001"); ok {
		t.Error("order 3001 exists: a rejected delivery was applied")
	}
}

func TestUnhandledEventTypeIsStoredAsIgnored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	body := []byte(`{"id":"evt_plan_1","object":"event","type":"plan.created","created":1721948530,"data":{"object":{"id":"price_1"}}}`)
	req := webhook.Request{Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
	req.Header.Set("Stripe-Signature", webhook.SignTimestamped(newSecret, time.Now().Unix(), body))
	if r := post(t, webhookURL(m, testSource), req); r.status != http.StatusOK {
		t.Fatalf("status = %d %s, want 200 so Stripe stops retrying", r.status, r.body)
	}
	if n := e.count(`SELECT count(*) FROM inbox WHERE status = 'ignored' AND event_type = 'plan.created'`); n != 1 {
		t.Errorf("ignored inbox rows = %d, want 1", n)
	}
}

func TestOlderRotatedSecretIsAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	r := post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", "evt_rot_1", "4001", 500, oldSecret, time.Now()))
	if r.status != http.StatusOK {
		t.Fatalf("signed with the older of two secrets: %d %s, want 200", r.status, r.body)
	}
	waitPaymentStatus(t, m, "4001", "paid", 10*time.Second)
}

func TestRedisDownStillAcknowledgesAndAppliesAfterItReturns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)

	e.redis.Stop()
	for i, id := range []string{"evt_redis_1", "evt_redis_2", "evt_redis_3", "evt_redis_4"} {
		r := post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", id, "500"+string(rune('1'+i)), 700, newSecret, time.Now()))
		if r.status != http.StatusOK {
			t.Fatalf("with Redis down: %d %s, want 200 (the row is committed)", r.status, r.body)
		}
	}
	if n := e.count(`SELECT count(*) FROM inbox WHERE status = 'received'`); n != 4 {
		t.Fatalf("received rows = %d, want 4", n)
	}
	e.redis.Start() // an empty Redis: the tasks that could not be queued are nowhere but in PostgreSQL
	for _, ref := range []string{"5001", "5002", "5003", "5004"} {
		waitPaymentStatus(t, m, ref, "paid", 30*time.Second)
	}
	if n := e.count(`SELECT count(*) FROM applied_events`); n != 4 {
		t.Errorf("applied events = %d, want 4", n)
	}
}

func TestPostgresDownAnswers503AndTheRetryIsAppliedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	proxy := testenv.NewProxy(t, postgresAddr(t, e.dbURL))
	cfg := e.config()
	cfg.DatabaseURL = strings.Replace(e.dbURL, postgresAddr(t, e.dbURL), proxy.Addr(), 1)
	m := e.start(cfg, allRoles)

	req := stripeEvent(t, "payment_intent.succeeded", "evt_pg_1", "6001", 1200, newSecret, time.Now())
	proxy.Cut()
	r := post(t, webhookURL(m, testSource), req)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("with PostgreSQL down: %d %s, want 503", r.status, r.body)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	proxy.Restore()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		r = post(t, webhookURL(m, testSource), req) // the provider's retry
		return r.status == http.StatusOK, "the retry to be accepted once PostgreSQL is back (last: " + r.body + ")"
	})
	post(t, webhookURL(m, testSource), req) // and one more, as providers do
	waitPaymentStatus(t, m, "6001", "paid", 10*time.Second)
	if n := e.count(`SELECT count(*) FROM applied_events`); n != 1 {
		t.Errorf("applied events = %d, want 1", n)
	}
}

func TestMetricsCountRequestsByOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	req := stripeEvent(t, "payment_intent.succeeded", "evt_metrics_1", "9501", 100, newSecret, time.Now())
	post(t, webhookURL(m, testSource), req)
	post(t, webhookURL(m, testSource), req)
	post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", "evt_metrics_2", "9502", 100, "whsec_wrong", time.Now()))
	waitPaymentStatus(t, m, "9501", "paid", 10*time.Second)

	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`tradewind_webhooks_total{outcome="accepted",source="acme-stripe"} 1`,
		`tradewind_webhooks_total{outcome="duplicate",source="acme-stripe"} 1`,
		`tradewind_webhooks_total{outcome="verification_failed",source="acme-stripe"} 1`,
		`tradewind_webhook_ack_seconds_count{source="acme-stripe"} 3`,
		`tradewind_inbox_processed_total{outcome="applied",source="acme-stripe"} 1`,
		`tradewind_queue_depth{queue=`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s in:\n%s", want, grepLines(string(body), "tradewind_webhook"))
		}
	}
}
