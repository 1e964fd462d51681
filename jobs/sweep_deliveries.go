package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/domain"
)

// TypeSweepDeliveries queues the tasks of outbox deliveries that have none: new
// rows whose task was never queued (the worker died after the apply committed,
// or Redis was down) and open rows whose task was lost.
const TypeSweepDeliveries = "deliveries:sweep"

// NewSweepDeliveriesTask returns the sweep task; its fixed id keeps one at a time.
func NewSweepDeliveriesTask() *asynq.Task {
	return asynq.NewTask(TypeSweepDeliveries, nil, asynq.TaskID("deliveries-sweep"), asynq.Queue(QueueLow),
		asynq.MaxRetry(0), asynq.Timeout(time.Minute))
}

// Outbox is the part of the deliveries store the dispatcher and the sweeper use.
type Outbox interface {
	// UnqueuedDestinations returns the destinations that have deliveries whose
	// task was never queued.
	UnqueuedDestinations(ctx context.Context) ([]string, error)
	// Unqueued returns up to limit of destination's deliveries whose task was
	// never queued, oldest first.
	Unqueued(ctx context.Context, destination string, limit int) ([]domain.DeliveryRef, error)
	// Unsent counts destination's deliveries queued but not yet tried.
	Unsent(ctx context.Context, destination string) (int, error)
	// MarkQueued records that the tasks of ids were queued.
	MarkQueued(ctx context.Context, ids []int64) error
	// Open returns pending or failed deliveries of enabled destinations whose task
	// was queued, due and last touched before `before`, with ids above after, in
	// id order.
	Open(ctx context.Context, before time.Time, after int64, limit int) ([]domain.DeliveryRef, error)
}

// SweepDeliveries queues delivery tasks from the outbox. Dispatch queues the new
// rows (run after each apply, through Kick, and on every sweep); Sweep pages
// through open rows older than Grace and queues any whose task is gone.
type SweepDeliveries struct {
	Outbox Outbox
	Queue  Enqueuer
	Tasks  TaskInspector
	Grace  time.Duration // open rows younger than this are left to their task
	// Delay says how long a new delivery's task waits before it runs (a stock
	// push's debounce, so a burst of changes to one SKU makes one push); nil: none.
	Delay func(d domain.DeliveryRef) time.Duration
	// Budget says how many deliveries of a destination may wait queued and
	// untried (Deliver.Budget: none while its breaker is open, so an outage costs
	// no task per delivery); a negative answer, or a nil Budget, sets no limit.
	Budget func(destination string) int
	Now    func() time.Time
	Logger *slog.Logger

	mu     sync.Mutex // guards cursor, held through a Sweep
	cursor int64

	countMu sync.Mutex
	counted map[string]time.Time // when each limited destination's unsent deliveries were last counted

	kick chan struct{}
	once sync.Once
}

// ProcessTask implements asynq.Handler.
func (h *SweepDeliveries) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Dispatch(ctx)
	if err != nil {
		return err
	}
	m, err := h.Sweep(ctx)
	if n+m > 0 {
		h.Logger.Info("swept deliveries into the queue", slog.Int("new", n), slog.Int("lost", m))
	}
	return err
}

const dispatchPage = 500

// Dispatch queues the task of every delivery never queued that its
// destination's Budget allows, and returns how many. The others wait in the
// outbox, where they cost nothing, for a later Dispatch.
func (h *SweepDeliveries) Dispatch(ctx context.Context) (int, error) {
	_, n, err := h.dispatchAll(ctx)
	return n, err
}

// dispatchAll is Dispatch that also returns the destinations it found waiting.
func (h *SweepDeliveries) dispatchAll(ctx context.Context) ([]string, int, error) {
	dests, err := h.Outbox.UnqueuedDestinations(ctx)
	if err != nil {
		return nil, 0, err
	}
	n, err := h.dispatchTo(ctx, dests)
	return dests, n, err
}

// stillHeld reports whether dests is not empty and every one of them is held
// now (Budget 0).
func (h *SweepDeliveries) stillHeld(dests []string) bool {
	if h.Budget == nil || len(dests) == 0 {
		return false
	}
	for _, d := range dests {
		if h.Budget(d) != 0 {
			return false
		}
	}
	return true
}

// dispatchTo queues what Budget allows of dests' deliveries never queued.
func (h *SweepDeliveries) dispatchTo(ctx context.Context, dests []string) (int, error) {
	total := 0
	for _, dest := range dests {
		budget := -1
		if h.Budget != nil {
			budget = h.Budget(dest)
		}
		if budget > 0 {
			// A limited destination (failing, or probing) is counted at most once a
			// second: the count reads its open deliveries, and Dispatch runs after
			// every apply.
			if !h.countNow(dest) {
				continue
			}
			unsent, err := h.Outbox.Unsent(ctx, dest)
			if err != nil {
				return total, err
			}
			budget = max(0, budget-unsent)
		}
		n, err := h.dispatch(ctx, dest, budget)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// countNow reports whether dest's queued, untried deliveries may be counted now
// (at most once a second), and if so notes the time.
func (h *SweepDeliveries) countNow(dest string) bool {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	h.countMu.Lock()
	defer h.countMu.Unlock()
	if h.counted == nil {
		h.counted = map[string]time.Time{}
	}
	if t, ok := h.counted[dest]; ok && now().Sub(t) < time.Second {
		return false
	}
	h.counted[dest] = now()
	return true
}

// dispatch queues up to budget (no limit when negative) of dest's deliveries
// never queued.
func (h *SweepDeliveries) dispatch(ctx context.Context, dest string, budget int) (int, error) {
	total := 0
	for budget != 0 {
		limit := dispatchPage
		if budget > 0 {
			limit = min(limit, budget)
		}
		page, err := h.Outbox.Unqueued(ctx, dest, limit)
		if err != nil || len(page) == 0 {
			return total, err
		}
		ids := make([]int64, 0, len(page))
		for _, d := range page {
			var opts []asynq.Option
			if h.Delay != nil {
				if wait := h.Delay(d); wait > 0 {
					opts = append(opts, asynq.ProcessIn(wait))
				}
			}
			if _, err := EnqueueDelivery(ctx, h.Queue, nil, d.ID, opts...); err != nil {
				if len(ids) > 0 {
					_ = h.Outbox.MarkQueued(ctx, ids)
				}
				return total, fmt.Errorf("queue delivery %d: %w", d.ID, err)
			}
			ids = append(ids, d.ID)
		}
		if err := h.Outbox.MarkQueued(ctx, ids); err != nil {
			return total, err
		}
		total += len(ids)
		if budget > 0 {
			budget -= len(ids)
		}
		if len(page) < limit {
			return total, nil
		}
	}
	return total, nil
}

// Sweep queues open deliveries whose task is gone and returns how many. A
// delivery never queued is Dispatch's.
func (h *SweepDeliveries) Sweep(ctx context.Context) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	before := now().Add(-h.Grace)
	queued := 0
	for range 20 {
		page, err := h.Outbox.Open(ctx, before, h.cursor, dispatchPage)
		if err != nil {
			return queued, err
		}
		if len(page) == 0 {
			h.cursor = 0
			return queued, nil
		}
		for _, d := range page {
			r, err := EnqueueDelivery(ctx, h.Queue, h.Tasks, d.ID)
			if err != nil {
				return queued, fmt.Errorf("queue delivery %d: %w", d.ID, err)
			}
			if r == Enqueued {
				queued++
			}
			h.cursor = d.ID
		}
	}
	return queued, nil
}

// Kick asks the dispatcher loop (Run) to dispatch soon; it never blocks.
func (h *SweepDeliveries) Kick() {
	h.once.Do(func() { h.kick = make(chan struct{}, 1) })
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Run dispatches after every Kick (coalesced) and every interval, until ctx ends.
// A Kick while every destination the last dispatch found waiting is still held
// (Budget 0: its breaker open) is left to the next interval: during an outage
// the outbox is not read after every payment, and a delivery to another
// destination waits at most an interval.
func (h *SweepDeliveries) Run(ctx context.Context, interval time.Duration) {
	h.once.Do(func() { h.kick = make(chan struct{}, 1) })
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var held []string // the destinations the last dispatch found, when all were held
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
			if h.stillHeld(held) {
				continue
			}
		case <-tick.C:
		}
		dests, _, err := h.dispatchAll(ctx)
		held = nil
		if h.stillHeld(dests) {
			held = dests
		}
		if err != nil && ctx.Err() == nil {
			h.Logger.Warn("could not queue new deliveries; the sweeper will", slog.String("error", err.Error()))
		}
	}
}
