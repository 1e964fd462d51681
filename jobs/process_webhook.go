package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/domain"
)

// TypeProcessWebhook verifies nothing (the ingress did) but fetches or confirms,
// normalizes and applies one inbox entry.
const TypeProcessWebhook = "webhook:process"

// ProcessWebhookPayload names the inbox entry.
type ProcessWebhookPayload struct {
	InboxID int64 `json:"inbox_id"`
}

// ProcessWebhookTaskID is the task id of an inbox entry's task: while that task is
// queued, retrying or running, enqueuing the entry again is a no-op.
func ProcessWebhookTaskID(inboxID int64) string { return "inbox:" + strconv.FormatInt(inboxID, 10) }

// NewProcessWebhookTask returns the task that applies inbox entry id, on queue
// (QueueCritical for payment gateways, QueueDefault for storefronts).
func NewProcessWebhookTask(inboxID int64, queue string) *asynq.Task {
	b, _ := json.Marshal(ProcessWebhookPayload{InboxID: inboxID})
	return asynq.NewTask(TypeProcessWebhook, b,
		asynq.TaskID(ProcessWebhookTaskID(inboxID)), asynq.Queue(queue), asynq.MaxRetry(20))
}

// Enqueuer is the part of asynq.Client the ingress and sweeper use.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// EnqueueEntry enqueues the task for an inbox entry on queue. A task already
// queued for it is not an error.
func EnqueueEntry(ctx context.Context, q Enqueuer, inboxID int64, queue string) error {
	_, err := q.EnqueueContext(ctx, NewProcessWebhookTask(inboxID, queue))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// ProcessWebhook is the handler for TypeProcessWebhook.
type ProcessWebhook struct {
	Inbox     domain.Inbox
	Applier   domain.Applier
	Source    func(id string) (domain.Source, bool)
	Provider  func(kind string) (domain.Provider, bool)
	Logger    *slog.Logger
	OnApplied func(source, outcome string) // metrics hook; may be nil
}

// ProcessTask implements asynq.Handler.
func (h *ProcessWebhook) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p ProcessWebhookPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.InboxID == 0 {
		return fmt.Errorf("undecodable %s payload %q: %v: %w", TypeProcessWebhook, t.Payload(), err, asynq.SkipRetry)
	}
	entry, err := h.Inbox.Get(ctx, p.InboxID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return fmt.Errorf("inbox entry %d does not exist: %w", p.InboxID, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	if entry.Status != domain.InboxReceived {
		return nil // applied, ignored or rejected already: nothing to do
	}
	log := h.Logger.With(slog.Int64("inbox_id", entry.ID), slog.String("source", entry.Source),
		slog.String("event_id", entry.EventID), slog.String("event_type", entry.EventType))

	err = h.process(ctx, entry, log)
	switch code := domain.ErrorCode(err); {
	case err == nil:
		h.observe(entry.Source, "applied")
		log.Debug("applied")
		return nil
	case code == domain.EUNAUTHORIZED:
		// The provider did not confirm the message: never applied, shown as rejected.
		log.Warn("provider did not confirm the message; rejected", slog.String("error", err.Error()))
		if err := h.Inbox.MarkAttempt(ctx, entry.ID, domain.InboxRejected, err.Error()); err != nil {
			return err
		}
		h.observe(entry.Source, "rejected")
		return h.Inbox.Reject(ctx, domain.Rejection{Source: entry.Source, Cause: domain.CauseNotConfirmed,
			Detail: domain.ErrorMessage(err), ReceivedAt: entry.ReceivedAt, InboxID: entry.ID})
	case code == domain.EINVALID || code == domain.ENOTFOUND:
		// Retrying cannot help. The inbox row records the failure for ops, and the
		// task completes rather than being archived, so that a replay (or the
		// sweeper) can queue the entry again under the same task id.
		log.Error("cannot apply; marked failed", slog.String("error", err.Error()))
		h.observe(entry.Source, "failed")
		return h.Inbox.MarkAttempt(ctx, entry.ID, domain.InboxFailed, err.Error())
	default:
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		if retried >= maxRetry {
			// Out of retries: failed for ops to replay, and the task completes (see above).
			log.Error("apply failed on the last retry; marked failed", slog.String("error", err.Error()))
			h.observe(entry.Source, "failed")
			return h.Inbox.MarkAttempt(ctx, entry.ID, domain.InboxFailed, err.Error())
		}
		log.Warn("apply failed; will retry", slog.String("error", err.Error()), slog.Int("retried", retried))
		if merr := h.Inbox.MarkAttempt(ctx, entry.ID, domain.InboxReceived, err.Error()); merr != nil {
			log.Warn("could not record the failed attempt", slog.String("error", merr.Error()))
		}
		return err
	}
}

func (h *ProcessWebhook) process(ctx context.Context, entry domain.InboxEntry, log *slog.Logger) error {
	src, ok := h.Source(entry.Source)
	if !ok {
		return domain.Errorf(domain.EINVALID, "source %q is no longer configured; add it back to the sources file and replay", entry.Source)
	}
	p, ok := h.Provider(src.Provider)
	if !ok {
		return domain.Errorf(domain.EINVALID, "provider %q is unknown", src.Provider)
	}
	msg := entry.Message()
	if f, ok := p.(domain.Fetcher); ok {
		fetched, err := f.Fetch(ctx, src, msg)
		if err != nil {
			return err
		}
		msg = fetched
	}
	if msg.Unconfirmed {
		return domain.Errorf(domain.EUNAUTHORIZED, "message %s was never confirmed by %s", msg.ID, src.Provider)
	}
	events, err := p.Normalize(src, msg)
	if err != nil {
		return err
	}
	log.Debug("normalized", slog.Int("events", len(events)))
	return h.Applier.ApplyEntry(ctx, entry.ID, events)
}

func (h *ProcessWebhook) observe(source, outcome string) {
	if h.OnApplied != nil {
		h.OnApplied(source, outcome)
	}
}
