package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// TypeMatureConflicts shows the pending conflicts (a refund before its capture, a
// payment before its order's total: conditions that can be mere artefacts of
// arrival order) whose condition has held for the grace period. It is scheduled,
// so a conflict shows whether or not another event for its order arrives.
const TypeMatureConflicts = "conflicts:mature"

// NewMatureConflictsTask returns the task; its fixed id keeps concurrent schedulers
// from queuing more than one at a time.
func NewMatureConflictsTask() *asynq.Task {
	return asynq.NewTask(TypeMatureConflicts, nil, asynq.TaskID("conflicts-mature"), asynq.Queue(QueueDefault),
		asynq.MaxRetry(0), asynq.Timeout(time.Minute))
}

// ConflictMaturer shows pending conflicts held for grace by now, at most limit,
// and returns how many it showed.
type ConflictMaturer interface {
	Mature(ctx context.Context, now time.Time, grace time.Duration, limit int) (int, error)
}

// MatureConflicts is the handler for TypeMatureConflicts.
type MatureConflicts struct {
	Conflicts ConflictMaturer
	Grace     time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
}

// ProcessTask implements asynq.Handler.
func (h *MatureConflicts) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Conflicts.Mature(ctx, h.Now(), h.Grace, 1000)
	if n > 0 {
		h.Logger.Info("conflicts held past their grace period are shown", slog.Int("count", n), slog.Duration("grace", h.Grace))
	}
	return err
}
