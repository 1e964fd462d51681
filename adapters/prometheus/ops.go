package prometheus

import (
	"context"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// OpsReads are what the operations gauges read at scrape time: the queues from
// Asynq (jobs.QueueLatencies, jobs.QueueArchived), the rest from PostgreSQL
// (adapters/postgres).
type OpsReads struct {
	QueueLatency  func(ctx context.Context) (map[string]time.Duration, error)
	QueueArchived func(ctx context.Context) (map[string]int, error)
	// Inbox is the inbox's entries by status.
	Inbox GaugeReader
	// Destinations are the configured destinations' ids.
	Destinations    []string
	Deliveries      DeliveryCounter
	States          DestinationStates
	Reconciliations func(ctx context.Context) (ReconciliationHealth, error)
}

// DeliveryCounter counts the deliveries not delivered, by destination and
// status; destinations with none waiting are absent.
type DeliveryCounter interface {
	DeliveryCounts(ctx context.Context) (map[string]map[domain.DeliveryStatus]int, error)
}

// DestinationStates reads the state of the destinations ids.
type DestinationStates interface {
	States(ctx context.Context, ids []string) (map[string]domain.DestinationState, error)
}

// ReconciliationHealth is what the alerts need of the reconciliation reports.
type ReconciliationHealth struct {
	// LastSuccess is when the newest completed run (not a dry run) finished;
	// zero when none has.
	LastSuccess time.Time
	// Last is the newest finished run that is not a dry run; Found is false when
	// none has finished.
	Last  domain.Reconciliation
	Found bool
}

// RegisterOps adds the gauges docs/monitoring's alerts and dashboard read
// besides the ingress and worker counters: each queue's latency (the age of its
// oldest pending task) and archived (dead) tasks, from Asynq's Inspector; and
// the inbox by status, from PostgreSQL. Each is read at scrape time, at most
// every 10 seconds.
func (m *Metrics) RegisterOps(r OpsReads) {
	m.RegisterGauge("tradewind_queue_latency_seconds",
		"Age of the oldest pending task in each Asynq queue (0 when none waits).", "queue", 10*time.Second,
		func(ctx context.Context) (map[string]float64, error) {
			lat, err := r.QueueLatency(ctx)
			out := make(map[string]float64, len(lat))
			for q, d := range lat {
				out[q] = d.Seconds()
			}
			return out, err
		})
	m.RegisterGauge("tradewind_queue_archived",
		"Tasks Asynq archived (gave up on) in each queue.", "queue", 10*time.Second,
		func(ctx context.Context) (map[string]float64, error) {
			archived, err := r.QueueArchived(ctx)
			out := make(map[string]float64, len(archived))
			for q, n := range archived {
				out[q] = float64(n)
			}
			return out, err
		})
	m.RegisterGauge("tradewind_inbox_entries",
		"Inbox entries by status: exact for received, failed, rejected and ignored; \"all\" is PostgreSQL's estimate of every row.",
		"status", 10*time.Second,
		r.Inbox)
	m.registerDownstream(r)
}

// registerDownstream adds the gauges of deliveries, destinations and
// reconciliation runs, read from PostgreSQL at scrape time, at most every 10
// seconds. Each configured destination shows every status it can wait in, 0
// included, so an alert on a rise has a series to compare with.
func (m *Metrics) registerDownstream(r OpsReads) {
	waiting := []domain.DeliveryStatus{domain.DeliveryPending, domain.DeliveryFailed, domain.DeliveryDead}
	m.RegisterGaugeVec("tradewind_deliveries",
		"Deliveries not yet delivered, by destination and status (pending, failed: retrying, dead: out of attempts).",
		[]string{"destination", "status"}, 10*time.Second,
		func(ctx context.Context) ([]Sample, error) {
			counts, err := r.Deliveries.DeliveryCounts(ctx)
			if err != nil {
				return nil, err
			}
			ids := map[string]bool{}
			for _, id := range r.Destinations {
				ids[id] = true
			}
			for id := range counts { // a destination removed from the file with deliveries left
				ids[id] = true
			}
			var out []Sample
			for id := range ids {
				for _, st := range waiting {
					out = append(out, Sample{Labels: []string{id, string(st)}, Value: float64(counts[id][st])})
				}
			}
			return out, nil
		})
	states := func(ctx context.Context, value func(domain.DestinationState) float64) ([]Sample, error) {
		ids := r.Destinations
		if len(ids) == 0 {
			return nil, nil
		}
		st, err := r.States.States(ctx, ids)
		if err != nil {
			return nil, err
		}
		out := make([]Sample, 0, len(ids))
		for _, id := range ids {
			out = append(out, Sample{Labels: []string{id}, Value: value(st[id])})
		}
		return out, nil
	}
	m.RegisterGaugeVec("tradewind_destination_disabled",
		"1 while a destination is disabled (a 410 disabled it; a person enables it again), else 0.",
		[]string{"destination"}, 10*time.Second,
		func(ctx context.Context) ([]Sample, error) {
			return states(ctx, func(s domain.DestinationState) float64 { return boolGauge(!s.Enabled) })
		})
	m.RegisterGaugeVec("tradewind_destination_breaker_open",
		"1 while a destination's circuit breaker is open or half open, as the workers last reported it, else 0.",
		[]string{"destination"}, 10*time.Second,
		func(ctx context.Context) ([]Sample, error) {
			return states(ctx, func(s domain.DestinationState) float64 { return boolGauge(s.Breaker != domain.BreakerClosed) })
		})

	m.RegisterGaugeVec("tradewind_reconciliation_last_success_timestamp_seconds",
		"When the newest completed reconciliation run (not a dry run) finished, in Unix seconds; 0 when none has.",
		nil, 10*time.Second,
		func(ctx context.Context) ([]Sample, error) {
			h, err := r.Reconciliations(ctx)
			if err != nil {
				return nil, err
			}
			v := 0.0
			if !h.LastSuccess.IsZero() {
				v = float64(h.LastSuccess.UnixMilli()) / 1000
			}
			return []Sample{{Value: v}}, nil
		})
	m.RegisterGaugeVec("tradewind_reconciliation_last_status",
		"1 for the status (completed or failed) of the newest finished reconciliation run that is not a dry run, 0 for the other; both 0 when none has finished.",
		[]string{"status"}, 10*time.Second,
		func(ctx context.Context) ([]Sample, error) {
			h, err := r.Reconciliations(ctx)
			if err != nil {
				return nil, err
			}
			return []Sample{
				{Labels: []string{domain.ReconCompleted}, Value: boolGauge(h.Found && h.Last.Status == domain.ReconCompleted)},
				{Labels: []string{domain.ReconFailed}, Value: boolGauge(h.Found && h.Last.Status == domain.ReconFailed)},
			}, nil
		})
	m.RegisterGaugeVec("tradewind_reconciliation_last_findings",
		"What the newest finished reconciliation run (not a dry run) found, by kind: missing, repaired, mismatched, conflicts, stock_drift_fixed, storefront_stock_drift, errors.",
		[]string{"kind"}, 10*time.Second,
		func(ctx context.Context) ([]Sample, error) {
			h, err := r.Reconciliations(ctx)
			if err != nil {
				return nil, err
			}
			f := h.Last.Findings()
			return []Sample{
				{Labels: []string{"missing"}, Value: float64(f.Missing)},
				{Labels: []string{"repaired"}, Value: float64(f.Repaired)},
				{Labels: []string{"mismatched"}, Value: float64(f.Mismatched)},
				{Labels: []string{"conflicts"}, Value: float64(f.Conflicts)},
				{Labels: []string{"stock_drift_fixed"}, Value: float64(f.StockDriftFixed)},
				{Labels: []string{"storefront_stock_drift"}, Value: float64(f.StorefrontDrift)},
				{Labels: []string{"errors"}, Value: float64(f.Errors)},
			}, nil
		})
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
