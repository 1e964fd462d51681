package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tradewind/tradewind/domain"
)

// Inspector is the part of asynq.Inspector a WebhookQueue uses: tasks by id (to
// queue an archived entry again) and queue sizes (its backlog).
type Inspector interface {
	TaskInspector
	QueueInspector
}

// WebhookQueueParams are a WebhookQueue's dependencies.
type WebhookQueueParams struct {
	Client Enqueuer  // asynq.Client
	Tasks  Inspector // asynq.Inspector
	// Timeout bounds one enqueue (default 1s): the ingress waits for it before
	// answering the provider.
	Timeout time.Duration
	// TripAfter is how many enqueues in a row must fail before the breaker opens
	// (default 3); OpenFor is how long it stays open before one enqueue tries
	// Redis again (default 5s).
	TripAfter uint32
	OpenFor   time.Duration
}

// WebhookQueue queues inbox entries on Asynq for the ingress and the API's
// replay, and reports the backlog. A circuit breaker keeps a Redis outage from
// slowing every acknowledgement: after TripAfter failures in a row, enqueues fail
// at once (EUNAVAILABLE) for OpenFor. Nothing is lost meanwhile: the entries are
// committed in PostgreSQL and the sweeper queues them once Redis answers.
type WebhookQueue struct {
	p       WebhookQueueParams
	breaker *gobreaker.CircuitBreaker[EnqueueResult]
}

var (
	_ domain.WebhookQueue  = (*WebhookQueue)(nil)
	_ domain.BacklogReader = (*WebhookQueue)(nil)
)

// NewWebhookQueue returns a WebhookQueue, its breaker closed.
func NewWebhookQueue(p WebhookQueueParams) *WebhookQueue {
	if p.Timeout <= 0 {
		p.Timeout = time.Second
	}
	if p.TripAfter == 0 {
		p.TripAfter = 3
	}
	if p.OpenFor <= 0 {
		p.OpenFor = 5 * time.Second
	}
	return &WebhookQueue{p: p, breaker: gobreaker.NewCircuitBreaker[EnqueueResult](gobreaker.Settings{
		Name:        "redis-enqueue",
		Timeout:     p.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= p.TripAfter },
		// A caller that gave up says nothing about Redis.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	})}
}

// Enqueue implements domain.WebhookQueue: EnqueueEntry on the entry's queue
// (QueueFor(src.Provider)), through the breaker.
func (q *WebhookQueue) Enqueue(ctx context.Context, inboxID int64, src domain.Source) error {
	_, err := q.breaker.Execute(func() (EnqueueResult, error) {
		ctx, cancel := context.WithTimeout(ctx, q.p.Timeout)
		defer cancel()
		return EnqueueEntry(ctx, q.p.Client, q.p.Tasks, inboxID, src.Provider)
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		return domain.WrapError(err, domain.EUNAVAILABLE, fmt.Sprintf(
			"Redis failed the last %d enqueues; not trying it again for up to %s (the sweeper queues inbox entry %d)",
			q.p.TripAfter, q.p.OpenFor, inboxID))
	default:
		return domain.WrapError(err, domain.EUNAVAILABLE, fmt.Sprintf("queue inbox entry %d (the sweeper queues it)", inboxID))
	}
}

// Open reports whether the breaker is open: enqueues fail without trying Redis.
func (q *WebhookQueue) Open() bool { return q.breaker.State() == gobreaker.StateOpen }

// Backlog implements domain.BacklogReader: BacklogTotal.
func (q *WebhookQueue) Backlog(ctx context.Context) (int, error) {
	n, err := BacklogTotal(ctx, q.p.Tasks)
	if err != nil {
		return 0, domain.WrapError(err, domain.EUNAVAILABLE, "the queue backlog cannot be read")
	}
	return n, nil
}

// BacklogByQueue is Backlog per queue, for the tradewind_queue_depth metric.
func (q *WebhookQueue) BacklogByQueue(ctx context.Context) (map[string]int, error) {
	return Backlog(ctx, q.p.Tasks)
}
