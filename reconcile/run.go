package reconcile

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// run is one source's pass, whatever its provider: what every provider's
// reconciliation shares (the source, its provider's adapter, the report being
// filled, the dry run and the run's clock), and the two ways any of them acts
// on a finding — repairEvent, which stores what Tradewind missed in the inbox
// and applies it through the worker's path, and conflict, which records what
// only a person can settle. Each provider's file holds its listing and its
// comparisons, and embeds a run (stripeRun, squareRun, storefrontRun) or uses
// one as it is (PayPal).
type run struct {
	r      *Reconciler
	src    domain.Source
	prov   domain.Provider
	rep    *report
	dryRun bool
	// now is the run's clock, read once: every conflict of the run carries it.
	now time.Time
	// wouldRepair holds, in a dry run only, the payments that the events the
	// run would have repaired refer to, so that a later pass over the
	// provider's payments (Stripe's payment intents) does not count them again.
	// It grows with what is missing, not with the window.
	wouldRepair map[string]bool
}

// newRun starts src's pass of req, reporting into rep.
func newRun(r *Reconciler, src domain.Source, req Request, rep *report) (*run, error) {
	prov, ok := r.p.Provider(src.Provider)
	if !ok {
		return nil, fmt.Errorf("provider %s is not registered", src.Provider)
	}
	return &run{r: r, src: src, prov: prov, rep: rep, dryRun: req.DryRun, now: r.p.Now()}, nil
}

// repairEvent stores e, an event Tradewind never received, in the inbox
// (origin reconciliation) and applies it through the worker's path, reporting
// whether it was applied now. It is not when the adapter refuses it or it does
// not apply (both reported, not returned), when a webhook brought it meanwhile
// (that entry's own task applies it), or in a dry run, which only normalizes it
// and notes its payments in wouldRepair. Only the database's errors are
// returned.
func (s *run) repairEvent(ctx context.Context, e domain.InboxEntry) (bool, error) {
	// Normalize first: an event the adapter refuses is reported, not stored.
	evs, err := s.prov.Normalize(s.src, e.Message())
	if err != nil {
		s.rep.errorf("event %s (%s): cannot be normalized: %s", e.EventID, e.EventType, domain.ErrorMessage(err))
		return false, nil
	}
	if s.dryRun {
		for _, ev := range evs {
			if ev.PaymentRef != "" {
				if s.wouldRepair == nil {
					s.wouldRepair = map[string]bool{}
				}
				s.wouldRepair[ev.PaymentRef] = true
			}
		}
		return false, nil
	}
	res, err := s.r.p.Store.InsertReconciled(ctx, e)
	if err != nil {
		return false, dbError{err}
	}
	if !res.New {
		return false, nil // a webhook brought it meanwhile: its own task applies it
	}
	if err := s.r.p.Apply(ctx, res.ID); err != nil {
		s.rep.errorf("event %s (%s): stored as webhook %d but not applied yet: %s", e.EventID, e.EventType, res.ID, domain.ErrorMessage(err))
		return false, nil
	}
	s.r.p.Logger.Info("reconciliation repaired an event", slog.String("source", s.src.ID), slog.String("event_id", e.EventID),
		slog.String("event_type", e.EventType), slog.Int64("inbox_id", res.ID))
	return true, nil
}

// conflict records finding f on orderRef (domain.ReconciliationConflict:
// Mismatch, Unknown), detail saying what differs; eventID names the event it
// is about, if any. A dry run only counts it.
func (s *run) conflict(ctx context.Context, f domain.Finding, orderRef, detail, eventID string) error {
	ch, ok := domain.ReconciliationConflict(f, detail, s.now, eventID)
	if !ok {
		return nil
	}
	s.rep.Conflicts++
	if s.dryRun {
		return nil
	}
	if err := s.r.p.Store.RecordConflict(ctx, orderRef, ch); err != nil {
		return dbError{err}
	}
	return nil
}

// endPass ends a pass that stopped at err (nil: it did not). The database's
// errors and the end of ctx end the run: they are returned. Any other is the
// provider's: it is reported as what stopped the pass named pass ("orders:
// …"), and the run goes on to its next pass (nil).
func (s *run) endPass(ctx context.Context, pass string, err error) error {
	if err == nil || isDatabase(err) || ctx.Err() != nil {
		return err
	}
	s.rep.errorf("%s: %s", pass, domain.ErrorMessage(err))
	return nil
}

// dbErrors marks a store stream's errors as the database's (they end the run).
func dbErrors[T any](seq iter.Seq2[T, error]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for v, err := range seq {
			if err != nil {
				err = dbError{err}
			}
			if !yield(v, err) {
				return
			}
		}
	}
}
