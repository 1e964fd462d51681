package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

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
// (QueueFor the entry's provider). Asynq's retry counter is a second bound: the
// attempts counted in PostgreSQL decide (see ProcessWebhook.MaxAttempts).
func NewProcessWebhookTask(inboxID int64, queue string) *asynq.Task {
	b, _ := json.Marshal(ProcessWebhookPayload{InboxID: inboxID})
	return asynq.NewTask(TypeProcessWebhook, b,
		asynq.TaskID(ProcessWebhookTaskID(inboxID)), asynq.Queue(queue), asynq.MaxRetry(DefaultMaxAttempts))
}

// ProcessWebhook is the handler for TypeProcessWebhook.
//
// It decides how an attempt ends. Applied, or ignored: done. Not confirmed by the
// provider: rejected, done. Input at fault (Permanent): failed at once, with the
// reason on the webhook, and the task is archived (asynq.SkipRetry). Anything else
// is transient: retried with backoff, until the entry's attempts, counted in
// PostgreSQL at each start, reach MaxAttempts (or Asynq's own counter runs out);
// then failed. A confirmation call over its source's cap is postponed, spending
// no attempt.
type ProcessWebhook struct {
	Inbox     domain.Inbox
	Applier   domain.Applier
	Sources   domain.SourceLookup
	Providers domain.ProviderRegistry
	Logger    *slog.Logger
	OnApplied func(source, outcome string) // metrics hook; may be nil
	// MaxAttempts bounds the attempts at one entry (DefaultMaxAttempts when 0).
	MaxAttempts int
	// Confirmations caps confirmation calls per source; nil means no cap.
	Confirmations *ConfirmLimiter
}

// ProcessTask implements asynq.Handler.
func (h *ProcessWebhook) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p ProcessWebhookPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.InboxID == 0 {
		return fmt.Errorf("undecodable %s payload %q: %v: %w", TypeProcessWebhook, t.Payload(), err, asynq.SkipRetry)
	}
	entry, err := h.Inbox.BeginAttempt(ctx, p.InboxID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return fmt.Errorf("inbox entry %d does not exist: %w", p.InboxID, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	if entry.Status != domain.InboxReceived {
		return nil // applied, ignored, failed or rejected already: nothing to do
	}
	log := h.Logger.With(slog.Int64("inbox_id", entry.ID), slog.String("source", entry.Source),
		slog.String("event_id", entry.EventID), slog.String("event_type", entry.EventType),
		slog.Int("attempt", entry.Attempts))
	maxAttempts := h.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	if entry.Attempts > maxAttempts {
		// Tried as often as allowed already (Redis lost the task's own counter, or
		// attempts died with their worker): give up without trying again.
		return h.fail(ctx, entry, log, fmt.Errorf("gave up after %d attempts, the maximum; fix the cause of the last error and replay the webhook; last error: %s",
			entry.Attempts-1, entry.LastError))
	}

	err = h.process(ctx, entry, log)
	var postponed *PostponedError
	switch code := domain.ErrorCode(err); {
	case err == nil:
		h.observe(entry.Source, "applied")
		log.Debug("applied")
		return nil
	case errors.As(err, &postponed):
		log.Debug("postponed", slog.String("reason", postponed.Reason), slog.String("delay", postponed.Delay.Round(time.Second).String()))
		if cerr := h.Inbox.CancelAttempt(ctx, entry.ID); cerr != nil {
			log.Warn("could not take back the postponed attempt", slog.String("error", cerr.Error()))
		}
		return err
	case code == domain.EUNAUTHORIZED:
		// The provider did not confirm the message: never applied, shown as rejected.
		log.Warn("provider did not confirm the message; rejected", slog.String("error", err.Error()))
		if err := h.Inbox.MarkAttempt(ctx, entry.ID, domain.InboxRejected, err.Error()); err != nil {
			return err
		}
		h.observe(entry.Source, "rejected")
		return h.Inbox.Reject(ctx, domain.Rejection{Source: entry.Source, Cause: domain.CauseNotConfirmed,
			Detail: domain.ErrorMessage(err), ReceivedAt: entry.ReceivedAt, InboxID: entry.ID})
	case Permanent(err):
		return h.fail(ctx, entry, log, err)
	default:
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, ok := asynq.GetMaxRetry(ctx)
		if entry.Attempts >= maxAttempts || (ok && retried >= maxRetry) {
			return h.fail(ctx, entry, log, fmt.Errorf("attempt %d of at most %d failed: %w", entry.Attempts, maxAttempts, err))
		}
		log.Warn("apply failed; will retry", slog.String("error", err.Error()), slog.Int("retried", retried))
		if merr := h.Inbox.MarkAttempt(ctx, entry.ID, domain.InboxReceived, err.Error()); merr != nil {
			log.Warn("could not record the failed attempt", slog.String("error", merr.Error()))
		}
		return err
	}
}

// fail marks entry failed with err as the reason shown on the webhook, and ends
// the task without retry (it is archived; a replay queues the entry again).
func (h *ProcessWebhook) fail(ctx context.Context, entry domain.InboxEntry, log *slog.Logger, err error) error {
	log.Error("cannot apply; marked failed", slog.String("error", err.Error()))
	if merr := h.Inbox.MarkAttempt(ctx, entry.ID, domain.InboxFailed, err.Error()); merr != nil {
		return fmt.Errorf("mark inbox entry %d failed (%v): %w", entry.ID, err, merr) // retried: the row must say failed
	}
	h.observe(entry.Source, "failed")
	return fmt.Errorf("inbox entry %d failed: %w: %w", entry.ID, err, asynq.SkipRetry)
}

func (h *ProcessWebhook) process(ctx context.Context, entry domain.InboxEntry, log *slog.Logger) error {
	src, ok := h.Sources.Source(entry.Source)
	if !ok {
		return domain.Errorf(domain.EINVALID, "source %q is no longer configured; add it back to the sources file and replay", entry.Source)
	}
	p, ok := h.Providers.Provider(src.Provider)
	if !ok {
		return domain.Errorf(domain.EINVALID, "provider %q is unknown", src.Provider)
	}
	msg := entry.Message()
	if f, ok := p.(domain.Fetcher); ok {
		if msg.Unconfirmed && h.Confirmations != nil {
			// Unsigned callbacks can be sent by anyone: each costs an outbound call
			// with the merchant's credentials, so their rate is capped per source.
			if d := h.Confirmations.Wait(src); d > 0 {
				return &PostponedError{Delay: d + rand.N(time.Minute),
					Reason: fmt.Sprintf("source %s is over its %s", src.ID, SettingConfirmRateLimit)}
			}
		}
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
