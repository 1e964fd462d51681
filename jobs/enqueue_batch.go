package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hibiken/asynq"
	"github.com/sony/gobreaker/v2"

	"github.com/tradewind/tradewind/domain"
)

// EnqueueBatch queues inbox entries ids, all of queue, as one TypeProcessBatch
// task, through the breaker. A batch queued already (its task id taken) is not
// an error.
func (q *WebhookQueue) EnqueueBatch(ctx context.Context, ids []int64, queue string) error {
	_, err := q.breaker.Execute(func() (EnqueueResult, error) {
		ctx, cancel := context.WithTimeout(ctx, q.p.Timeout)
		defer cancel()
		_, err := q.p.Client.EnqueueContext(ctx, NewProcessBatchTask(ids, queue))
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			return AlreadyQueued, nil
		}
		return Enqueued, err
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		return domain.WrapError(err, domain.EUNAVAILABLE, fmt.Sprintf(
			"Redis failed the last %d enqueues; not trying it again for up to %s (the sweeper queues the %d inbox entries)",
			q.p.TripAfter, q.p.OpenFor, len(ids)))
	default:
		return domain.WrapError(err, domain.EUNAVAILABLE, fmt.Sprintf("queue %d inbox entries (the sweeper queues them)", len(ids)))
	}
}

// EnqueueCommitted implements domain.CommitQueue: the new received entries of
// one commit leave as one TypeProcessBatch task per queue (a TypeProcessWebhook
// task for a queue's only entry), at most DefaultEnqueueBatch entries a task.
func (q *WebhookQueue) EnqueueCommitted(ctx context.Context, entries []domain.InboxEntry, results []domain.InsertResult) error {
	var (
		queues []string // in order of first appearance
		ids    = map[string][]int64{}
		anyOf  = map[string]string{} // a provider of each queue
	)
	for i, e := range entries {
		if !results[i].New || e.Status != domain.InboxReceived {
			continue
		}
		queue := QueueFor(e.Provider)
		if _, ok := ids[queue]; !ok {
			queues, anyOf[queue] = append(queues, queue), e.Provider
		}
		ids[queue] = append(ids[queue], results[i].ID)
	}
	var errs []error
	for _, queue := range queues {
		for batch := range slices.Chunk(ids[queue], DefaultEnqueueBatch) {
			if len(batch) == 1 {
				errs = append(errs, q.Enqueue(ctx, batch[0], domain.Source{Provider: anyOf[queue]}))
			} else {
				errs = append(errs, q.EnqueueBatch(ctx, batch, queue))
			}
		}
	}
	return errors.Join(errs...)
}

// BatchingQueue is a WebhookQueue that queues the entries acknowledged together
// as one task: concurrent Enqueue calls of one queue (the callers of one ingest
// group commit, answered at once) leave in one TypeProcessBatch task listing
// their entries, instead of a task each. Batching adds no wait: a call that finds
// its queue idle enqueues at once (alone: a TypeProcessWebhook task, as
// WebhookQueue does); calls that arrive while an enqueue is in flight collect
// into the next. Each call returns once its own entry's task is queued (or not).
type BatchingQueue struct {
	*WebhookQueue
	// MaxBatch bounds the entries of one task (DefaultEnqueueBatch when 0).
	MaxBatch int

	mu      sync.Mutex
	pending map[string][]*enqueueCall // by queue
	running map[string]bool
}

// DefaultEnqueueBatch is BatchingQueue's default MaxBatch: the ingest group
// commit's rows per batch.
const DefaultEnqueueBatch = 256

var (
	_ domain.WebhookQueue = (*BatchingQueue)(nil)
	_ domain.CommitQueue  = (*WebhookQueue)(nil)
)

type enqueueCall struct {
	id   int64
	src  domain.Source
	done chan error // buffered
}

// Enqueue implements domain.WebhookQueue.
func (b *BatchingQueue) Enqueue(ctx context.Context, inboxID int64, src domain.Source) error {
	queue := QueueFor(src.Provider)
	c := &enqueueCall{id: inboxID, src: src, done: make(chan error, 1)}
	b.mu.Lock()
	if b.pending == nil {
		b.pending, b.running = map[string][]*enqueueCall{}, map[string]bool{}
	}
	b.pending[queue] = append(b.pending[queue], c)
	if !b.running[queue] {
		b.running[queue] = true
		go b.drain(queue)
	}
	b.mu.Unlock()
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return domain.WrapError(ctx.Err(), domain.EUNAVAILABLE, fmt.Sprintf("queue inbox entry %d (the sweeper queues it)", inboxID))
	}
}

// drain enqueues queue's waiting calls, a task per batch, until none wait.
func (b *BatchingQueue) drain(queue string) {
	for {
		b.mu.Lock()
		n := min(len(b.pending[queue]), cmp.Or(b.MaxBatch, DefaultEnqueueBatch))
		if n == 0 {
			b.running[queue] = false
			b.mu.Unlock()
			return
		}
		calls := b.pending[queue][:n:n]
		b.pending[queue] = b.pending[queue][n:]
		b.mu.Unlock()

		var err error
		if len(calls) == 1 {
			err = b.WebhookQueue.Enqueue(context.Background(), calls[0].id, calls[0].src)
		} else {
			ids := make([]int64, len(calls))
			for i, c := range calls {
				ids[i] = c.id
			}
			err = b.EnqueueBatch(context.Background(), ids, queue)
		}
		for _, c := range calls {
			c.done <- err
		}
	}
}
