package jobs

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// ApplyBatcher is the process's group apply: the tasks running at once hand it
// their entries (one each, or a batch task's several), and it applies them together, up to MaxBatch in one transaction
// (domain.BatchApplier), so one commit serves many entries. It implements
// domain.Applier and domain.BatchApplier, so neither ProcessWebhook nor
// ProcessBatch knows it is there.
//
// It adds no wait: an entry that finds fewer than MaxInFlight batches running
// starts one at once (alone, when the worker is quiet); entries that arrive while
// every lane is busy queue and leave together in the next batch. ApplyEntry
// returns once the entry's transaction has ended, so a task is acknowledged only
// after its entry committed; an entry's failure is its own (the BatchApplier
// never fails a batch for one member's input).
//
// The zero value is not usable; set Applier. Goroutines run only while entries
// wait, so there is nothing to start or shut down.
type ApplyBatcher struct {
	Applier domain.BatchApplier
	// MaxBatch bounds the entries in one transaction (DefaultApplyBatch when 0).
	MaxBatch int
	// MaxInFlight bounds the batches applied at once (DefaultApplyLanes when 0).
	MaxInFlight int
	// Timeout bounds one batch's transaction (DefaultApplyTimeout when 0). A
	// batch outlives the tasks that fed it: a task whose context ends stops
	// waiting, and its entry commits or not; a retry finds out which.
	Timeout time.Duration

	lanes lanes[*applyRequest]
}

// Defaults of ApplyBatcher.
const (
	DefaultApplyBatch = 32
	// Two lanes measured best on two cores with 20 workers (bench e2e): more
	// lanes make smaller batches, each paying a transaction's round trips.
	DefaultApplyLanes   = 2
	DefaultApplyTimeout = time.Minute
)

var (
	_ domain.Applier      = (*ApplyBatcher)(nil)
	_ domain.BatchApplier = (*ApplyBatcher)(nil)
)

type applyRequest struct {
	entry domain.EntryEvents
	done  chan error // buffered: the batch never waits for its task
}

// ApplyEntry implements domain.Applier.
func (b *ApplyBatcher) ApplyEntry(ctx context.Context, entryID int64, events []domain.Event) error {
	return b.ApplyEntries(ctx, []domain.EntryEvents{{ID: entryID, Events: events}})[0]
}

// ApplyEntries implements domain.BatchApplier: a task's entries join the queue
// together, so the tasks running at once share transactions (a task's own batch
// is as small as the requests its ingress batch held). It returns once each
// entry's transaction has ended, or ctx has.
func (b *ApplyBatcher) ApplyEntries(ctx context.Context, entries []domain.EntryEvents) []error {
	reqs := make([]*applyRequest, len(entries))
	for i, e := range entries {
		reqs[i] = &applyRequest{entry: e, done: make(chan error, 1)}
	}
	b.lanes.add(reqs, orDefault(b.MaxInFlight, DefaultApplyLanes), orDefault(b.MaxBatch, DefaultApplyBatch), b.apply)
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		select {
		case errs[i] = <-r.done:
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	return errs
}

// Queued returns how many entries wait for a lane.
func (b *ApplyBatcher) Queued() int { return b.lanes.queued() }

func (b *ApplyBatcher) apply(batch []*applyRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(b.Timeout, DefaultApplyTimeout))
	defer cancel()
	entries := make([]domain.EntryEvents, len(batch))
	for i, r := range batch {
		entries[i] = r.entry
	}
	var errs []error
	defer func() {
		// Every task gets an answer, whatever happened to the batch.
		p := recover()
		for i, r := range batch {
			switch {
			case p != nil:
				r.done <- fmt.Errorf("applying a batch of %d entries panicked: %v", len(batch), p)
			case i < len(errs):
				r.done <- errs[i]
			default:
				r.done <- fmt.Errorf("the batch applier answered %d of %d entries", len(errs), len(batch))
			}
		}
	}()
	errs = b.Applier.ApplyEntries(ctx, entries)
}
