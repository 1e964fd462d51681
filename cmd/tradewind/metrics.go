package main

import (
	"context"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
	tprom "github.com/tradewind/tradewind/adapters/prometheus"
	"github.com/tradewind/tradewind/jobs"
)

// opsReads feed the gauges docs/monitoring's alerts and dashboard read.
func (m *Main) opsReads() tprom.OpsReads {
	ids := make([]string, len(m.Destinations))
	for i, d := range m.Destinations {
		ids[i] = d.ID
	}
	reads := &postgres.DownstreamReads{DB: m.DB}
	return tprom.OpsReads{
		QueueLatency:  m.queueLatencies,
		QueueArchived: func(ctx context.Context) (map[string]int, error) { return jobs.QueueArchived(ctx, m.inspector) },
		Inbox:         func(ctx context.Context) (map[string]float64, error) { return postgres.InboxGauge(ctx, m.DB) },
		Destinations:  ids, Deliveries: reads, States: &postgres.Destinations{DB: m.DB},
		Reconciliations: func(ctx context.Context) (tprom.ReconciliationHealth, error) {
			h, err := reads.ReconciliationHealth(ctx)
			return tprom.ReconciliationHealth(h), err
		},
	}
}

func (m *Main) queueLatencies(ctx context.Context) (map[string]time.Duration, error) {
	return jobs.QueueLatencies(ctx, m.inspector)
}
