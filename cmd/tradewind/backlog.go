package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// queueBacklog is the number of tasks waiting in Asynq's queues, pending or
// retrying: how far the workers are behind. The ingress sheds load above
// TRADEWIND_SHED_QUEUE_DEPTH; it reads this at most once a second.
func (m *Main) queueBacklog(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	qs, err := m.inspector.Queues()
	if err != nil {
		return 0, fmt.Errorf("queue backlog: %w", err)
	}
	n := 0
	for _, q := range qs {
		info, err := m.inspector.GetQueueInfo(q)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("queue backlog: %s: %w", q, err)
		}
		n += info.Pending + info.Retry
	}
	return n, nil
}
