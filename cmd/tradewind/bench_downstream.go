package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// downstreamTargetRatio: a destination that is down may cost the payment path at
// most 10% of its applied rate.
const downstreamTargetRatio = 0.9

// runDownstreamBench measures the payment path (signed Stripe webhooks in →
// orders paid) twice on a fresh database: without destinations, then with a CRM
// that answers 503 to everything. Its deliveries pile up on the low queue behind
// an open breaker; the applied rate and the acknowledgement p99 must stay within
// 10% of the run without destinations.
func runDownstreamBench(ctx context.Context, b *benchRun) ([]benchFigure, error) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	crm := domain.Destination{ID: "bench-crm", Kind: domain.DestinationWebhook, URL: down.URL,
		Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, Timeout: time.Second, MaxAttempts: domain.DefaultMaxDeliveryAttempts,
		MinBackoff: time.Second, MaxBackoff: time.Minute, BreakerFailures: domain.DefaultBreakerFailures, BreakerCooldown: domain.DefaultBreakerCooldown}
	type result struct {
		applied, p99 float64
		acked        int
		deliveries   int
	}
	measure := func(phase string, dests []domain.Destination) (result, error) {
		var r result
		if err := b.reset(ctx); err != nil {
			return r, err
		}
		b.step("downstream: %s, %d webhooks from %d senders", phase, b.opts.events, b.opts.senders)
		cfg, err := b.config(nil)
		if err != nil {
			return r, err
		}
		sources, err := LoadSources(cfg.SourcesFile, osEnv)
		if err != nil {
			return r, err
		}
		m := NewMain(cfg, sources, newLogger(b.stderr, cfg.LogLevel))
		m.Destinations = dests
		if err := m.Run(ctx, Roles{Serve: true, Work: true, Migrate: true}); err != nil {
			_ = m.Close(context.Background())
			return r, err
		}
		defer stopMain(m)
		maker, err := newStripeMaker(b.secret, 2500)
		if err != nil {
			return r, err
		}
		client := newWebhookClient(m.Addr(), benchSource, max(b.opts.senders, 256))
		defer client.close()
		load := newE2ELoad(phase, maker, client)
		start := time.Now()
		var ls loadStats
		b.window(func() {
			ls = countedLoop(ctx, b.opts.senders, b.opts.events, load.send)
			err = waitApplied(ctx, m.DB, load.acked(), benchDrainDeadline)
		})
		if err != nil {
			return r, err
		}
		var last sql.NullTime
		if err := m.DB.GetContext(ctx, &last, `SELECT max(applied_at) FROM inbox`); err != nil || !last.Valid {
			return r, fmt.Errorf("no webhook applied (%v)", err)
		}
		r.acked, r.p99 = load.acked(), ls.pct(0.99)
		r.applied = float64(r.acked) / last.Time.Sub(start).Seconds()
		_ = m.DB.GetContext(ctx, &r.deliveries, `SELECT count(*) FROM deliveries`)
		return r, nil
	}
	base, err := measure("without destinations", nil)
	if err != nil {
		return nil, err
	}
	withDown, err := measure("with a CRM down", []domain.Destination{crm})
	if err != nil {
		return nil, err
	}
	ackRatio := 0.0
	if withDown.p99 > 0 {
		ackRatio = base.p99 / withDown.p99 // ≥ 0.9 when the p99 grew by at most ~10%
	}
	return []benchFigure{
		benchFigure{Name: "events applied, CRM down", Value: round1(withDown.applied), Unit: "/s",
			Note: fmt.Sprintf("%d webhooks; %d deliveries waiting for the CRM", withDown.acked, withDown.deliveries)}.
			against("without destinations", round1(base.applied), downstreamTargetRatio),
		{Name: "ack p99, CRM down", Value: round1(withDown.p99), Unit: "ms", P99Ms: withDown.p99,
			Baseline: "without destinations", BaselineValue: round1(base.p99), Ratio: ackRatio, Target: "≤ 1.1× (ratio shown inverted)",
			Met: func() *bool { ok := ackRatio >= downstreamTargetRatio; return &ok }()},
	}, nil
}
