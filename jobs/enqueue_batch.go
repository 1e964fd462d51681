package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"

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

// DefaultEnqueueBatch bounds the entries of one TypeProcessBatch task: the
// ingest group commit's rows per batch.
const DefaultEnqueueBatch = 256

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
