package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// QueueInspector is the part of asynq.Inspector that reads the queues' sizes.
type QueueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// Backlog is how far the workers are behind, per queue: the tasks ready to run
// (pending) and those waiting out a retry delay. Scheduled tasks (due later on
// purpose: a nightly run) and active ones (a worker has them) are not behind.
//
// It is the one definition: load shedding (TRADEWIND_SHED_QUEUE_DEPTH), the
// dashboard and the tradewind_queue_depth metric all read it. Asynq's inspector
// takes no context; ctx is checked between queues.
func Backlog(ctx context.Context, q QueueInspector) (map[string]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	queues, err := q.Queues()
	if err != nil {
		return nil, fmt.Errorf("queue backlog: %w", err)
	}
	out := make(map[string]int, len(queues))
	for _, name := range queues {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info, err := q.GetQueueInfo(name)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue // removed since Queues answered
		}
		if err != nil {
			return nil, fmt.Errorf("queue backlog: %s: %w", name, err)
		}
		out[name] = info.Pending + info.Retry
	}
	return out, nil
}

// BacklogTotal is the Backlog of all queues together.
func BacklogTotal(ctx context.Context, q QueueInspector) (int, error) {
	per, err := Backlog(ctx, q)
	n := 0
	for _, v := range per {
		n += v
	}
	return n, err
}
