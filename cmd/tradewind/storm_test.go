package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/internal/testenv"
)

// TestFailedGroupCommitAnswers503AndStoresNothing: a webhook is never answered
// 2xx unless its row is committed. A deferred constraint trigger makes COMMIT fail
// for marked events; whatever batches the concurrent requests share, every 200
// has its row, and every 503 (the marked ones among them) has none.
func TestFailedGroupCommitAnswers503AndStoresNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	for _, q := range []string{
		`CREATE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.event_id LIKE 'evt_fail%' THEN RAISE EXCEPTION 'injected commit failure'; END IF;
			RETURN NULL;
		END $$`,
		`CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT ON inbox
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit()`,
	} {
		if _, err := e.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	r := post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", "evt_fail_0", "7000", 100, newSecret, time.Now()))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("commit failed: %d %s (Retry-After %q), want 503 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}

	const n = 60
	ids := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		ids[i] = fmt.Sprintf("evt_ok_%d", i)
		if i%10 == 3 {
			ids[i] = fmt.Sprintf("evt_fail_%d", i)
		}
		req := stripeEvent(t, "payment_intent.succeeded", ids[i], fmt.Sprint(7001+i), 100, newSecret, time.Now())
		wg.Go(func() { statuses[i] = post(t, webhookURL(m, testSource), req).status })
	}
	wg.Wait()
	accepted := 0
	for i, id := range ids {
		stored := e.count(`SELECT count(*) FROM inbox WHERE event_id = $1`, id) == 1
		switch {
		case statuses[i] == http.StatusOK && !stored:
			t.Errorf("%s answered 200 but not stored", id)
		case statuses[i] == http.StatusServiceUnavailable && stored:
			t.Errorf("%s answered 503 but stored", id)
		case statuses[i] != http.StatusOK && statuses[i] != http.StatusServiceUnavailable:
			t.Errorf("%s answered %d, want 200 or 503", id, statuses[i])
		case strings.HasPrefix(id, "evt_fail") && statuses[i] != http.StatusServiceUnavailable:
			t.Errorf("%s (fails at commit) answered %d, want 503", id, statuses[i])
		}
		if statuses[i] == http.StatusOK {
			accepted++
		}
	}
	if accepted == 0 {
		t.Error("no request was accepted: unmarked events must not all fail")
	}
	if got := e.count(`SELECT count(*) FROM inbox`); got != accepted {
		t.Errorf("inbox rows = %d, want the %d accepted", got, accepted)
	}
}

// TestQueueBacklogShedsUntilTheWorkersCatchUp: with no worker running, tasks
// pile up in Redis; past TRADEWIND_SHED_QUEUE_DEPTH the ingress answers 503 with
// Retry-After and records the cause; once a worker drains the queue, the
// provider's retry is accepted and applied.
func TestQueueBacklogShedsUntilTheWorkersCatchUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.ShedQueueDepth = 3
	m := e.start(cfg, Roles{Serve: true})

	for i := range 4 {
		req := stripeEvent(t, "payment_intent.succeeded", fmt.Sprintf("evt_shed_%d", i), fmt.Sprint(8000+i), 100, newSecret, time.Now())
		if r := post(t, webhookURL(m, testSource), req); r.status != http.StatusOK {
			t.Fatalf("below the threshold: %d %s, want 200", r.status, r.body)
		}
	}
	// New webhooks keep coming; the depth is read in the background, at most once
	// a second, so a few more may be accepted before the first 503.
	refs := []string{"8000", "8001", "8002", "8003"}
	var (
		r      response
		late   webhook.Request
		lateID string
	)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		ref := fmt.Sprint(8100 + len(refs))
		lateID = "evt_shed_" + ref
		late = stripeEvent(t, "payment_intent.succeeded", lateID, ref, 100, newSecret, time.Now())
		r = post(t, webhookURL(m, testSource), late)
		refs = append(refs, ref)
		return r.status == http.StatusServiceUnavailable, fmt.Sprintf("503 once 4 tasks wait (threshold 3); last %d %s", r.status, r.body)
	})
	if r.header.Get("Retry-After") == "" || !strings.Contains(r.body, `"overloaded"`) {
		t.Errorf("shed answer: Retry-After %q, body %s; want a Retry-After and code overloaded", r.header.Get("Retry-After"), r.body)
	}
	if n := e.count(`SELECT count(*) FROM inbox WHERE event_id = $1`, lateID); n != 0 {
		t.Fatalf("a shed webhook was stored")
	}
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		return e.count(`SELECT count(*) FROM rejections WHERE cause = 'overloaded'`) > 0, "a rejection recorded with cause overloaded"
	})

	e.start(cfg, Roles{Work: true}) // the workers catch up
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		r = post(t, webhookURL(m, testSource), late) // the provider's retry
		return r.status == http.StatusOK, fmt.Sprintf("the retry to be accepted once the queue drains; last %d %s", r.status, r.body)
	})
	for _, ref := range refs {
		waitPaymentStatus(t, m, ref, "paid", 30*time.Second)
	}
}
