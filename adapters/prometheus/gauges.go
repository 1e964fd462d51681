package prometheus

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// GaugeReader reads a labelled gauge's values at scrape time, by label value.
type GaugeReader func(ctx context.Context) (map[string]float64, error)

// RegisterGauge adds a gauge read at scrape time with one label. A read is cached
// for cache (0: none), so that several scrapers cost the database or Redis one
// read; a failed read reports the gauge invalid for that scrape.
func (m *Metrics) RegisterGauge(name, help, label string, cache time.Duration, read GaugeReader) {
	m.Registry.MustRegister(&gaugeCollector{read: read, cache: cache,
		desc: prometheus.NewDesc(name, help, []string{label}, nil)})
}

type gaugeCollector struct {
	read  GaugeReader
	desc  *prometheus.Desc
	cache time.Duration

	mu   sync.Mutex
	at   time.Time
	last map[string]float64
}

func (c *gaugeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || time.Since(c.at) >= c.cache {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		v, err := c.read(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		c.last, c.at = v, time.Now()
	}
	for k, v := range c.last {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, k)
	}
}

// Sample is one value of a gauge with several labels, its label values in the
// order the gauge names its labels.
type Sample struct {
	Labels []string
	Value  float64
}

// SampleReader reads a gauge's samples at scrape time.
type SampleReader func(ctx context.Context) ([]Sample, error)

// RegisterGaugeVec adds a gauge with any number of labels (none included),
// read at scrape time and cached like RegisterGauge's.
func (m *Metrics) RegisterGaugeVec(name, help string, labels []string, cache time.Duration, read SampleReader) {
	m.Registry.MustRegister(&sampleCollector{read: read, cache: cache, desc: prometheus.NewDesc(name, help, labels, nil)})
}

type sampleCollector struct {
	read  SampleReader
	desc  *prometheus.Desc
	cache time.Duration

	mu   sync.Mutex
	at   time.Time
	last []Sample
	done bool // last holds a read
}

func (c *sampleCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sampleCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done || time.Since(c.at) >= c.cache {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		v, err := c.read(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		c.last, c.at, c.done = v, time.Now(), true
	}
	for _, s := range c.last {
		m, err := prometheus.NewConstMetric(c.desc, prometheus.GaugeValue, s.Value, s.Labels...)
		if err != nil { // the reader's labels do not fit the gauge's
			m = prometheus.NewInvalidMetric(c.desc, err)
		}
		ch <- m
	}
}
