package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/adapters/registry"
)

// QueueFor is the queue of the task of an inbox entry holding a webhook of
// provider kind: payment gateways' webhooks go to the critical queue,
// storefronts' to the default one, so money is applied first when workers are
// behind. It is the one routing rule: the ingress, replay and the sweeper all
// call it with the provider stored on the entry, so an entry's task always lives
// on the same queue and its task id (unique per queue only) keeps it single.
func QueueFor(provider string) string {
	if registry.IsGateway(provider) {
		return QueueCritical
	}
	return QueueDefault
}

// Enqueuer is the part of asynq.Client the ingress, replay and the sweeper use.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// TaskInspector is the part of asynq.Inspector that tells a live task from a
// finished one under the same id.
type TaskInspector interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
	DeleteTask(queue, id string) error
}

// EnqueueResult says what EnqueueEntry did.
type EnqueueResult int

const (
	// Enqueued: a new task was queued for the entry.
	Enqueued EnqueueResult = iota + 1
	// AlreadyQueued: the entry's task is pending, scheduled, retrying or running.
	AlreadyQueued
)

// EnqueueEntry queues the task of inbox entry inboxID, whose webhook is from
// provider, on QueueFor(provider). A task already queued, scheduled, retrying or
// running for the entry is not an error (AlreadyQueued). A task archived after a
// permanent failure still holds the task id in Redis; when tasks is not nil it is
// deleted and the entry queued again, so that a replayed (or swept) entry is never
// stuck behind its old task. (Tasks carry no Retention, so none is kept as
// completed.)
func EnqueueEntry(ctx context.Context, q Enqueuer, tasks TaskInspector, inboxID int64, provider string) (EnqueueResult, error) {
	queue := QueueFor(provider)
	return enqueueReplacing(ctx, q, tasks, NewProcessWebhookTask(inboxID, queue), queue, ProcessWebhookTaskID(inboxID))
}

// enqueueReplacing queues task (id tid, on queue). When its id is taken, a live
// task (pending, scheduled, retrying, running) stands and the result is
// AlreadyQueued; a finished one (archived after its retries, or completed and
// retained) is deleted and task queued in its place. tasks nil: a taken id is
// AlreadyQueued.
func enqueueReplacing(ctx context.Context, q Enqueuer, tasks TaskInspector, task *asynq.Task, queue, tid string) (EnqueueResult, error) {
	_, err := q.EnqueueContext(ctx, task)
	if err == nil {
		return Enqueued, nil
	}
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		return 0, err
	}
	if tasks == nil {
		return AlreadyQueued, nil
	}
	info, err := tasks.GetTaskInfo(queue, tid)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
		// Gone between the two calls: queue it again below.
	case err != nil:
		return 0, fmt.Errorf("inspect task %s: %w", tid, err)
	case info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted:
		return AlreadyQueued, nil
	default:
		if err := tasks.DeleteTask(queue, tid); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return 0, fmt.Errorf("delete finished task %s: %w", tid, err)
		}
	}
	_, err = q.EnqueueContext(ctx, task)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return AlreadyQueued, nil // queued meanwhile by someone else
	}
	if err != nil {
		return 0, err
	}
	return Enqueued, nil
}
