package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/adapters/powertranz"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
	"github.com/tradewind/tradewind/jobs"
)

type webhookStatus struct {
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

// A signed Stripe event with \u0000 in metadata.order_ref was retried 34 times.
// Through the real ingress and worker it now fails after one attempt, and the
// webhook says why.
func TestPoisonWebhookFailsOnceAndSaysWhy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	if r := post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", "evt_poison_1", "A\x00B", 100, newSecret, time.Now())); r.status != http.StatusOK {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	id := e.count(`SELECT id FROM inbox WHERE event_id = 'evt_poison_1'`)
	var w webhookStatus
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		apiGet(t, m, fmt.Sprint("webhooks/", id), &w)
		return w.Status == domain.InboxFailed, fmt.Sprintf("webhook %d to be failed (now %+v)", id, w)
	})
	if w.Attempts != 1 || !strings.Contains(w.LastError, "0x00") {
		t.Errorf("webhook = %+v, want failed after 1 attempt, its last_error naming the NUL byte", w)
	}
}

// Unsigned PowerTranz callbacks each cost a confirmation call with the merchant's
// credentials. Past the source's confirm_rate_limit they wait, spending no attempt.
func TestConfirmationCallsAreCappedPerSource(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gw := powertranz.NewFakeGateway()
	api := httptest.NewServer(gw)
	t.Cleanup(api.Close)
	src := domain.Source{ID: "acme-powertranz", Provider: powertranz.Kind, Secrets: []string{"pt-password"},
		Settings: map[string]string{powertranz.SettingAPIBaseURL: api.URL, powertranz.SettingID: "88801234", jobs.SettingConfirmRateLimit: "1"}}
	sources := testSources()
	sources[src.ID] = src
	m := e.startWith(sources)

	for i := range 3 {
		req, err := powertranz.Provider{}.Sample(src, powertranz.EventCallback,
			webhook.SampleOptions{EventID: fmt.Sprint("cb-", i), OrderRef: fmt.Sprint(9100 + i), Amount: 500, Currency: "USD", Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := gw.ApproveCallback(req.Body); err != nil {
			t.Fatal(err)
		}
		if r := post(t, webhookURL(m, src.ID), req); r.status/100 != 2 {
			t.Fatalf("callback %d: POST = %d %s", i, r.status, r.body)
		}
	}
	opt, err := asynq.ParseRedisURI(e.redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	inspector := asynq.NewInspector(opt)
	defer inspector.Close()
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		applied := e.count(`SELECT count(*) FROM inbox WHERE source = $1 AND status = 'applied'`, src.ID)
		postponed := 0
		for _, id := range e.ids(`SELECT id FROM inbox WHERE source = $1 AND status = 'received'`, src.ID) {
			info, err := inspector.GetTaskInfo(jobs.QueueCritical, jobs.ProcessWebhookTaskID(id))
			if err == nil && info.State == asynq.TaskStateRetry && info.Retried == 0 {
				postponed++
			}
		}
		return applied == 1 && postponed == 2, fmt.Sprintf("1 callback applied and 2 postponed without a retry spent (now %d and %d)", applied, postponed)
	})
	if n := gw.Calls(); n != 1 {
		t.Errorf("confirmation calls = %d, want 1 (confirm_rate_limit: 1 a minute)", n)
	}
	if n := e.count(`SELECT coalesce(sum(attempts), 0) FROM inbox WHERE source = $1 AND status = 'received'`, src.ID); n != 0 {
		t.Errorf("attempts spent by postponed callbacks = %d, want 0", n)
	}
}

func (e *env) ids(query string, args ...any) []int64 {
	e.t.Helper()
	var ids []int64
	if err := e.db.Select(&ids, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return ids
}
