package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
	"github.com/tradewind/tradewind/jobs"
)

// TestArrivalOrderRaisesNoAlarm: through the real ingress, a Stripe refund that
// arrives before its capture leaves no conflict behind once the capture arrives;
// a refund that really exceeds its capture is pending (not listed) until the
// conflicts:mature task, run after the grace period, shows it.
func TestArrivalOrderRaisesNoAlarm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.ConflictGrace = 2 * time.Minute
	m := e.start(cfg, allRoles)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	// 9401: the refund first, then its capture: consistent in the end.
	// 9402: a refund larger than the capture: a real inconsistency.
	for _, d := range []struct {
		ref string
		delivery
	}{
		{"9401", delivery{testSource, "refund.created", webhook.SampleOptions{EventID: "evt_g1b", Amount: 1000, Now: at(4)}}},
		{"9401", delivery{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: "evt_g1a", Amount: 1000, Now: at(3)}}},
		{"9402", delivery{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: "evt_g2a", Amount: 1000, Now: at(3)}}},
		{"9402", delivery{testSource, "refund.created", webhook.SampleOptions{EventID: "evt_g2b", Amount: 1500, Now: at(4)}}},
	} {
		d.o.OrderRef = d.ref
		e.send(m, d.delivery)
	}
	for _, ref := range []string{"9401", "9402"} {
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			// A fresh value each poll: a 404 decodes nothing, and must not leave
			// the previous order's events behind.
			var o struct {
				PaymentStatus string `json:"payment_status"`
				Events        []any  `json:"events"`
			}
			api(t, m, http.MethodGet, "/api/v1/orders/"+ref, nil, &o)
			return len(o.Events) == 2, fmt.Sprintf("order %s with both events applied (have %+v)", ref, o)
		})
	}
	list := func(query string) []domain.Conflict {
		var l conflictList
		if code := api(t, m, http.MethodGet, "/api/v1/conflicts?"+query, nil, &l); code != http.StatusOK {
			t.Fatalf("GET /api/v1/conflicts?%s = %d", query, code)
		}
		return l.Conflicts
	}
	if got := list("state=all&order_ref=9401"); len(got) != 0 {
		t.Errorf("order 9401 ended consistent but left conflicts: %+v", got)
	}
	if got := list("state=pending&order_ref=9401"); len(got) != 0 {
		t.Errorf("order 9401 ended consistent but left pending conflicts: %+v", got)
	}
	if got := list("state=all&order_ref=9402"); len(got) != 0 {
		t.Errorf("order 9402 shows a conflict before its grace period: %+v", got)
	}
	if got := list("state=pending&order_ref=9402"); len(got) != 1 || got[0].Kind != domain.ConflictRefundExceedsCapture {
		t.Errorf("order 9402 pending conflicts = %+v, want refund_exceeds_capture", got)
	}

	// The scheduled task, run as if the grace period were over.
	h := &jobs.MatureConflicts{Conflicts: &postgres.Conflicts{DB: m.DB}, Grace: cfg.ConflictGrace,
		Now: func() time.Time { return time.Now().Add(cfg.ConflictGrace) }, Logger: testLogger()}
	if err := h.ProcessTask(context.Background(), jobs.NewMatureConflictsTask()); err != nil {
		t.Fatal(err)
	}
	if got := list("state=resolved&order_ref=9402"); len(got) != 1 || got[0].Kind != domain.ConflictRefundExceedsCapture || got[0].ResolvedBy != domain.ResolvedByRule {
		t.Errorf("order 9402 after the grace period = %+v, want refund_exceeds_capture resolved by its rule", got)
	}
	if got := list("state=all&order_ref=9401"); len(got) != 0 {
		t.Errorf("order 9401 after the grace period: %+v", got)
	}
}
