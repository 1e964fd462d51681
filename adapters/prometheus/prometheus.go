// Package prometheus holds Tradewind's metrics. Each Main owns a registry, so two
// instances in one test process do not collide.
package prometheus

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the counters and histograms the ingress and workers update.
type Metrics struct {
	Registry *prometheus.Registry
	Webhooks *prometheus.CounterVec   // requests by source and outcome
	Ack      *prometheus.HistogramVec // acknowledgement latency by source
	Applied  *prometheus.CounterVec   // processed inbox entries by source and outcome
}

// New returns metrics registered on a fresh registry, with Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradewind_webhooks_total",
			Help: "Webhook requests by source and outcome (accepted, duplicate, ignored, or a rejection cause).",
		}, []string{"source", "outcome"}),
		Ack: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tradewind_webhook_ack_seconds",
			Help:    "Time from receiving a webhook to answering it, by source.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"source"}),
		Applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradewind_inbox_processed_total",
			Help: "Inbox entries processed by workers, by source and outcome (applied, failed, rejected).",
		}, []string{"source", "outcome"}),
	}
	m.Registry.MustRegister(m.Webhooks, m.Ack, m.Applied,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// QueueSizer reports queue depths; asynq's Inspector satisfies it through QueueDepths.
type QueueSizer func(ctx context.Context) (map[string]int, error)

// RegisterQueueDepth adds a gauge of the queue depth per queue, read at scrape time.
func (m *Metrics) RegisterQueueDepth(sizes QueueSizer) {
	m.Registry.MustRegister(&queueCollector{sizes: sizes, desc: prometheus.NewDesc(
		"tradewind_queue_depth", "Tasks waiting or retrying in each Asynq queue.", []string{"queue"}, nil)})
}

type queueCollector struct {
	sizes QueueSizer
	desc  *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sizes, err := c.sizes(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for q, n := range sizes {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), q)
	}
}
