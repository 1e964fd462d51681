package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
//
// It pages through received entries by id, from where its last sweep stopped,
// and queues each on its own queue (QueueFor its provider). An entry whose task
// is already queued, scheduled, retrying or running is skipped, so a backlog of
// retrying entries cannot hide newer entries that were never queued: a sweep goes
// on until it has queued Batch entries, looked at MaxScan, or come back round to
// where it began.
type SweepInbox struct {
	Inbox domain.Inbox
	Queue Enqueuer
	Tasks TaskInspector // lets an archived task be replaced; may be nil
	// Batches lists the live batch tasks (TypeProcessBatch), whose entries are
	// queued though they have no task of their own; nil: none are looked for.
	Batches BatchLister
	Grace   time.Duration // entries younger than this are left to the ingress
	Batch   int           // entries queued per sweep at most (default 1000)
	MaxScan int           // entries looked at per sweep at most (default 20 × Batch)
	Now     func() time.Time
	Logger  *slog.Logger

	mu     sync.Mutex
	cursor int64 // the id the next sweep starts after
}

// SweepResult says what a sweep did.
type SweepResult struct {
	Enqueued      int // entries queued
	AlreadyQueued int // entries skipped: their task exists
	Scanned       int // entries looked at
}

// ProcessTask implements asynq.Handler.
func (h *SweepInbox) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	res, err := h.Sweep(ctx)
	attrs := []any{slog.Int("enqueued", res.Enqueued), slog.Int("already_queued", res.AlreadyQueued), slog.Int("scanned", res.Scanned)}
	switch {
	case err != nil:
		h.Logger.Warn("inbox sweep stopped", append(attrs, slog.String("error", err.Error()))...)
	case res.Enqueued > 0:
		h.Logger.Info("swept inbox entries into the queue", attrs...)
	case res.Scanned > 0:
		h.Logger.Debug("inbox sweep: every pending entry is queued", attrs...)
	}
	return err
}

const sweepPage = 500

// Sweep queues received entries that have no task and reports what it did.
func (h *SweepInbox) Sweep(ctx context.Context) (SweepResult, error) {
	batch := h.Batch
	if batch <= 0 {
		batch = 1000
	}
	maxScan := h.MaxScan
	if maxScan <= 0 {
		maxScan = 20 * batch
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var res SweepResult
	before := h.Now().Add(-h.Grace)
	start, wrapped := h.cursor, false
	var batched map[int64]bool // entries of live batch tasks, read at the first candidate
	for res.Enqueued < batch && res.Scanned < maxScan {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		page, err := h.Inbox.Pending(ctx, before, h.cursor, min(sweepPage, maxScan-res.Scanned))
		if err != nil {
			return res, fmt.Errorf("sweep: %w", err)
		}
		if len(page) == 0 {
			if start == 0 || wrapped {
				h.cursor = 0 // at the end: the next sweep starts from the oldest
				return res, nil
			}
			h.cursor, wrapped = 0, true // round again, up to where this sweep began
			continue
		}
		if batched == nil {
			if batched, err = BatchedEntries(h.Batches); err != nil {
				return res, fmt.Errorf("sweep: %w", err)
			}
		}
		for _, e := range page {
			if wrapped && e.ID > start {
				h.cursor = 0
				return res, nil
			}
			if batched[e.ID] {
				h.cursor = e.ID
				res.Scanned++
				res.AlreadyQueued++
				continue
			}
			r, err := EnqueueEntry(ctx, h.Queue, h.Tasks, e.ID, e.Provider)
			if err != nil {
				return res, fmt.Errorf("sweep: enqueue inbox entry %d: %w", e.ID, err)
			}
			h.cursor = e.ID
			res.Scanned++
			if r == Enqueued {
				res.Enqueued++
			} else {
				res.AlreadyQueued++
			}
			if res.Enqueued >= batch {
				break
			}
		}
	}
	return res, nil
}

// BatchLister is the part of asynq.Inspector that lists a queue's tasks by state.
type BatchLister interface {
	ListPendingTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	ListActiveTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	ListScheduledTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	ListRetryTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
}

// BatchedEntries returns the inbox entries that live batch tasks (pending,
// active, scheduled or retrying, on either queue) hold. A batch task that is
// archived or gone holds none: its entries are the sweeper's to queue. With a nil
// lister it returns an empty set.
func BatchedEntries(l BatchLister) (map[int64]bool, error) {
	out := map[int64]bool{}
	if l == nil {
		return out, nil
	}
	const pageSize = 1000
	for _, queue := range []string{QueueCritical, QueueDefault} {
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
			l.ListPendingTasks, l.ListActiveTasks, l.ListScheduledTasks, l.ListRetryTasks,
		} {
			for page := 1; ; page++ {
				tasks, err := list(queue, asynq.PageSize(pageSize), asynq.Page(page))
				if errors.Is(err, asynq.ErrQueueNotFound) {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("list tasks of queue %s: %w", queue, err)
				}
				for _, t := range tasks {
					if t.Type != TypeProcessBatch {
						continue
					}
					var p ProcessBatchPayload
					if json.Unmarshal(t.Payload, &p) == nil {
						for _, id := range p.InboxIDs {
							out[id] = true
						}
					}
				}
				if len(tasks) < pageSize {
					break
				}
			}
		}
	}
	return out, nil
}
