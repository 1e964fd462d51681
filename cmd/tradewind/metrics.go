package main

import (
	"context"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
)

// registerOpsMetrics adds the gauges docs/monitoring's alerts and dashboard read
// besides the ingress and worker counters: each queue's latency (the age of its
// oldest pending task) and archived (dead) tasks, from Asynq's Inspector; and
// the inbox by status, from PostgreSQL. Each is read at scrape time, at most
// every 10 seconds.
func (m *Main) registerOpsMetrics() {
	m.Metrics.RegisterGauge("tradewind_queue_latency_seconds",
		"Age of the oldest pending task in each Asynq queue (0 when none waits).", "queue", 10*time.Second,
		func(ctx context.Context) (map[string]float64, error) {
			lat, err := m.queueLatencies(ctx)
			out := make(map[string]float64, len(lat))
			for q, d := range lat {
				out[q] = d.Seconds()
			}
			return out, err
		})
	m.Metrics.RegisterGauge("tradewind_queue_archived",
		"Tasks Asynq archived (gave up on) in each queue.", "queue", 10*time.Second,
		func(ctx context.Context) (map[string]float64, error) {
			qs, err := m.inspector.Queues()
			if err != nil {
				return nil, err
			}
			out := make(map[string]float64, len(qs))
			for _, q := range qs {
				info, err := m.inspector.GetQueueInfo(q)
				if err != nil {
					return nil, err
				}
				out[q] = float64(info.Archived)
			}
			return out, nil
		})
	m.Metrics.RegisterGauge("tradewind_inbox_entries",
		"Inbox entries by status: exact for received, failed, rejected and ignored; \"all\" is PostgreSQL's estimate of every row.",
		"status", 10*time.Second,
		func(ctx context.Context) (map[string]float64, error) { return postgres.InboxGauge(ctx, m.DB) })
}

// queueLatencies is the age of the oldest pending task in each queue, from
// Asynq's Inspector: for the metrics and the dashboard's overview.
func (m *Main) queueLatencies(ctx context.Context) (map[string]time.Duration, error) {
	qs, err := m.inspector.Queues()
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Duration, len(qs))
	for _, q := range qs {
		info, err := m.inspector.GetQueueInfo(q)
		if err != nil {
			return nil, err
		}
		out[q] = info.Latency
	}
	return out, nil
}
