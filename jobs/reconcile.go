package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/reconcile"
)

// This file holds the reconciliation's two task types: the run itself, and the
// nightly tick the cron enqueues, which turns the night into a run exactly once.

// TypeReconcile runs one reconciliation.
const TypeReconcile = "reconcile:run"

// ReconcilePayload says which reconciliation to run: ID names a report created
// by POST /api/v1/reconciliations; with ID 0 (the nightly run) the handler
// creates the report, keyed by the task's id, from the window and sources here.
type ReconcilePayload struct {
	ID      int64     `json:"id,omitempty"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	Sources []string  `json:"sources,omitempty"`
	DryRun  bool      `json:"dry_run,omitempty"`
}

// reconcileTimeout bounds one run (a million orders take well under this).
const reconcileTimeout = 4 * time.Hour

// NewReconcileTask returns the task of a reconciliation. A report's task is
// unique by its id ("reconcile:<id>").
func NewReconcileTask(p ReconcilePayload, opts ...asynq.Option) *asynq.Task {
	b, _ := json.Marshal(p)
	base := []asynq.Option{asynq.Queue(QueueDefault), asynq.MaxRetry(2), asynq.Timeout(reconcileTimeout)}
	if p.ID != 0 {
		base = append(base, asynq.TaskID("reconcile:"+strconv.FormatInt(p.ID, 10)))
	}
	return asynq.NewTask(TypeReconcile, b, append(base, opts...)...)
}

// Reconciler is what the handlers need of reconcile.Reconciler.
type Reconciler interface {
	Start(ctx context.Context, req reconcile.Request) (domain.Reconciliation, error)
	Run(ctx context.Context, id int64) (domain.Reconciliation, error)
}

// Reconcile is the handler for TypeReconcile.
type Reconcile struct {
	Reconciler Reconciler
	Logger     *slog.Logger
}

// ProcessTask implements asynq.Handler. A run that fails (its report says why)
// is not retried: the next night's run, or ops, start another.
func (h *Reconcile) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p ReconcilePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("undecodable %s payload: %v: %w", TypeReconcile, err, asynq.SkipRetry)
	}
	id := p.ID
	if id == 0 {
		key, _ := asynq.GetTaskID(ctx)
		rec, err := h.Reconciler.Start(ctx, reconcile.Request{Since: p.Since, Until: p.Until, Sources: p.Sources, DryRun: p.DryRun, TaskKey: key})
		if code := domain.ErrorCode(err); code == domain.EINVALID {
			return fmt.Errorf("reconciliation: %w: %w", err, asynq.SkipRetry)
		}
		if err != nil {
			return err
		}
		id = rec.ID
	}
	_, err := h.Reconciler.Run(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return fmt.Errorf("reconciliation %d does not exist: %w", id, asynq.SkipRetry)
	}
	if err != nil {
		return fmt.Errorf("reconciliation %d failed (its report says why): %v: %w", id, err, asynq.SkipRetry)
	}
	return nil
}

// TypeReconcileNightly is the cron's nightly tick. Every schedule replica's cron
// enqueues one; each tick enqueues the night's run under an id derived from the
// window (retained after it completes), so the night is reconciled once however
// many replicas ticked.
const TypeReconcileNightly = "reconcile:nightly"

// NewReconcileNightlyTask returns the tick.
func NewReconcileNightlyTask() *asynq.Task {
	return asynq.NewTask(TypeReconcileNightly, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(3), asynq.Timeout(time.Minute))
}

// nightlyRetention keeps a night's run id taken after the run completes, so a
// late replica's tick cannot start it again.
const nightlyRetention = 72 * time.Hour

// NightlyTaskID is the id of the run of the window ending at until (in loc).
func NightlyTaskID(until time.Time, loc *time.Location) string {
	return "reconcile:nightly:" + until.In(loc).Format("2006-01-02")
}

// ReconcileNightly is the handler for TypeReconcileNightly.
type ReconcileNightly struct {
	Queue Enqueuer
	// At is the time of day of the run ("02:30") in Location: the window is the
	// 24 hours before the latest such time.
	At       string
	Location *time.Location
	Now      func() time.Time
	Logger   *slog.Logger
}

// Window returns the 24 hours that end at the latest At in Location not after now.
func Window(now time.Time, at string, loc *time.Location) (since, until time.Time, err error) {
	clock, err := time.Parse("15:04", at)
	if err != nil {
		return since, until, fmt.Errorf("reconcile time %q is not HH:MM", at)
	}
	n := now.In(loc)
	until = time.Date(n.Year(), n.Month(), n.Day(), clock.Hour(), clock.Minute(), 0, 0, loc)
	if until.After(n) {
		until = time.Date(n.Year(), n.Month(), n.Day()-1, clock.Hour(), clock.Minute(), 0, 0, loc)
	}
	return until.AddDate(0, 0, -1), until, nil
}

// ProcessTask implements asynq.Handler.
func (h *ReconcileNightly) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	since, until, err := Window(h.Now(), h.At, h.Location)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	id := NightlyTaskID(until, h.Location)
	_, err = h.Queue.EnqueueContext(ctx, NewReconcileTask(ReconcilePayload{Since: since.UTC(), Until: until.UTC()},
		asynq.TaskID(id), asynq.Retention(nightlyRetention)))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		h.Logger.Debug("the night's reconciliation is queued already", slog.String("task_id", id))
		return nil
	}
	if err != nil {
		return err
	}
	h.Logger.Info("nightly reconciliation queued", slog.String("task_id", id), slog.Time("since", since), slog.Time("until", until))
	return nil
}
