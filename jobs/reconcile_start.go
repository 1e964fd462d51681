package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/reconcile"
)

// StartReconciliation stores a running report and queues its run
// (POST /api/v1/reconciliations). A run that cannot be queued is saved as
// failed, and EUNAVAILABLE is returned.
type StartReconciliation struct {
	Reconciler Reconciler
	Queue      Enqueuer
	Reports    interface {
		Save(ctx context.Context, r domain.Reconciliation) error
	}
	Now    func() time.Time
	Logger *slog.Logger
}

// Start is the API's StartReconciliation.
func (s *StartReconciliation) Start(ctx context.Context, req reconcile.Request) (domain.Reconciliation, error) {
	r, err := s.Reconciler.Start(ctx, req)
	if err != nil {
		return r, err
	}
	_, err = s.Queue.EnqueueContext(ctx, NewReconcileTask(ReconcilePayload{ID: r.ID, Since: r.Since, Until: r.Until,
		Sources: r.Requested, DryRun: r.DryRun}))
	if err != nil {
		now := s.Now().UTC()
		r.Status, r.Error, r.FinishedAt = domain.ReconFailed, "could not be queued: Redis is unavailable", &now
		if serr := s.Reports.Save(ctx, r); serr != nil {
			s.Logger.Warn("save reconciliation", slog.String("error", serr.Error()))
		}
		return r, domain.WrapError(err, domain.EUNAVAILABLE, "the reconciliation could not be queued (Redis is unavailable); retry shortly")
	}
	return r, nil
}
