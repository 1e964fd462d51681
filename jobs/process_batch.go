package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/domain"
)

// TypeProcessBatch applies the inbox entries one ingest batch committed, in one
// task: one attempt statement for all, then the group apply
// (domain.BatchApplier). An entry the batch cannot finish goes on as its own
// TypeProcessWebhook task, so its retries and attempts stay its own.
const TypeProcessBatch = "webhook:batch"

// ProcessBatchPayload names the inbox entries of one batch.
type ProcessBatchPayload struct {
	InboxIDs []int64 `json:"inbox_ids"`
}

// ProcessBatchTaskID is the task id of a batch: its first entry's. Task ids are
// unique per queue, and an entry is in one batch.
func ProcessBatchTaskID(firstID int64) string { return "inbox-batch:" + strconv.FormatInt(firstID, 10) }

// NewProcessBatchTask returns the task that applies inbox entries ids, on queue
// (QueueFor their provider; a batch holds entries of one queue).
func NewProcessBatchTask(ids []int64, queue string) *asynq.Task {
	b, _ := json.Marshal(ProcessBatchPayload{InboxIDs: ids})
	return asynq.NewTask(TypeProcessBatch, b, asynq.TaskID(ProcessBatchTaskID(ids[0])), asynq.Queue(queue), asynq.MaxRetry(3))
}

// BatchAttempts counts an attempt at many inbox entries in one statement and
// returns those still received (postgres.Inbox.BeginAttempts).
type BatchAttempts interface {
	BeginAttempts(ctx context.Context, ids []int64) ([]domain.InboxEntry, error)
}

// ProcessBatch is the handler for TypeProcessBatch.
//
// The entries still received get an attempt each, counted in one statement.
// Those that need nothing but normalizing are applied together; every other
// entry — a provider that fetches or confirms, a message that does not
// normalize, an entry past its attempts, an entry whose apply failed — is handed
// to its own TypeProcessWebhook task, which decides as it always does. An entry
// handed over before it was tried gets its attempt back; one whose apply failed
// keeps it, with the error. The task fails (and Asynq retries it) only when an
// entry could be neither applied nor handed over; the sweeper queues the
// entries of a batch task that is gone.
type ProcessBatch struct {
	Single   *ProcessWebhook // Inbox, Sources, Providers, Logger, OnApplied and MaxAttempts are its
	Attempts BatchAttempts
	Applier  domain.BatchApplier
	Queue    Enqueuer
	Tasks    TaskInspector // lets an archived single task be replaced; may be nil
}

// ProcessTask implements asynq.Handler.
func (h *ProcessBatch) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p ProcessBatchPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || len(p.InboxIDs) == 0 {
		return fmt.Errorf("undecodable %s payload %q: %v: %w", TypeProcessBatch, t.Payload(), err, asynq.SkipRetry)
	}
	entries, err := h.Attempts.BeginAttempts(ctx, p.InboxIDs)
	if err != nil {
		return err
	}
	maxAttempts := h.Single.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	var (
		apply   []domain.EntryEvents
		applied []domain.InboxEntry
		handoff []domain.InboxEntry // not tried: their attempt is given back
	)
	for _, e := range entries {
		events, ok := h.events(e, maxAttempts)
		if !ok {
			handoff = append(handoff, e)
			continue
		}
		apply, applied = append(apply, domain.EntryEvents{ID: e.ID, Events: events}), append(applied, e)
	}
	var failed []domain.InboxEntry
	if len(apply) > 0 {
		for i, err := range h.Applier.ApplyEntries(ctx, apply) {
			e := applied[i]
			if err == nil {
				h.Single.observe(e.Source, "applied")
				continue
			}
			h.Single.Logger.Debug("batch apply failed; the entry goes on alone", slog.Int64("inbox_id", e.ID), slog.String("error", err.Error()))
			if merr := h.Single.Inbox.MarkAttempt(ctx, e.ID, domain.InboxReceived, err.Error()); merr != nil {
				h.Single.Logger.Warn("could not record the failed attempt", slog.Int64("inbox_id", e.ID), slog.String("error", merr.Error()))
			}
			failed = append(failed, e)
		}
	}
	for _, e := range handoff {
		if err := h.Single.Inbox.CancelAttempt(ctx, e.ID); err != nil {
			return fmt.Errorf("give back the attempt at inbox entry %d: %w", e.ID, err)
		}
	}
	for _, e := range append(handoff, failed...) {
		if _, err := EnqueueEntry(ctx, h.Queue, h.Tasks, e.ID, e.Provider); err != nil {
			return fmt.Errorf("hand inbox entry %d to its own task: %w", e.ID, err)
		}
	}
	return nil
}

// events normalizes an entry the batch can apply: its source and provider known,
// a provider that neither fetches nor confirms, attempts left. It reports false
// for an entry its own task is to take.
func (h *ProcessBatch) events(e domain.InboxEntry, maxAttempts int) ([]domain.Event, bool) {
	if e.Attempts > maxAttempts {
		return nil, false
	}
	src, ok := h.Single.Sources.Source(e.Source)
	if !ok {
		return nil, false
	}
	p, ok := h.Single.Providers.Provider(src.Provider)
	if !ok {
		return nil, false
	}
	if _, fetches := p.(domain.Fetcher); fetches {
		return nil, false
	}
	msg := e.Message()
	if msg.Unconfirmed {
		return nil, false
	}
	events, err := p.Normalize(src, msg)
	if err != nil {
		return nil, false
	}
	return events, true
}
