package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/domain"
)

// TypeSweepInbox finds inbox entries that were committed but never queued (Redis
// was down when they arrived, or lost its data) and queues them.
const TypeSweepInbox = "inbox:sweep"

// NewSweepInboxTask returns the sweep task. Its fixed task id keeps concurrent
// schedulers from queuing more than one sweep at a time.
func NewSweepInboxTask() *asynq.Task {
	return asynq.NewTask(TypeSweepInbox, nil, asynq.TaskID("inbox-sweep"), asynq.Queue(QueueCritical),
		asynq.MaxRetry(0), asynq.Timeout(time.Minute))
}

// SweepInbox is the handler for TypeSweepInbox.
type SweepInbox struct {
	Inbox  domain.Inbox
	Queue  Enqueuer
	Grace  time.Duration // entries younger than this are left to the ingress
	Batch  int
	Now    func() time.Time
	Logger *slog.Logger
}

// ProcessTask implements asynq.Handler.
func (h *SweepInbox) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Sweep(ctx)
	if n > 0 {
		h.Logger.Info("swept inbox entries into the queue", slog.Int("count", n))
	}
	return err
}

// Sweep queues pending entries and returns how many it queued.
func (h *SweepInbox) Sweep(ctx context.Context) (int, error) {
	batch := h.Batch
	if batch <= 0 {
		batch = 1000
	}
	ids, err := h.Inbox.Pending(ctx, h.Now().Add(-h.Grace), batch)
	if err != nil {
		return 0, err
	}
	for i, id := range ids {
		// Swept entries are late already; they go to the default queue whatever
		// their provider, rather than costing a read of each row here.
		if err := EnqueueEntry(ctx, h.Queue, id, QueueDefault); err != nil {
			return i, fmt.Errorf("sweep: enqueue inbox entry %d: %w", id, err)
		}
	}
	return len(ids), nil
}
