package jobs

import (
	"context"

	"github.com/tradewind/tradewind/domain"
)

// KickApplier applies as its Applier does, then calls Kick (the delivery
// dispatcher's: queue the deliveries the apply made, committed already; the
// sweeper is the safety net).
type KickApplier struct {
	domain.Applier
	Kick func()
}

// ApplyEntry implements domain.Applier.
func (a KickApplier) ApplyEntry(ctx context.Context, entryID int64, events []domain.Event) error {
	err := a.Applier.ApplyEntry(ctx, entryID, events)
	if err == nil {
		a.Kick()
	}
	return err
}

// KickBatchApplier is KickApplier for a batch: it calls Kick once any entry of
// the batch applied.
type KickBatchApplier struct {
	domain.BatchApplier
	Kick func()
}

// ApplyEntries implements domain.BatchApplier.
func (a KickBatchApplier) ApplyEntries(ctx context.Context, entries []domain.EntryEvents) []error {
	errs := a.BatchApplier.ApplyEntries(ctx, entries)
	for _, err := range errs {
		if err == nil {
			a.Kick()
			break
		}
	}
	return errs
}
