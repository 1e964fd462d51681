package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// The storefront stock pass: for each stock destination, the SKUs Tradewind has
// published there (published_stock, a page at a time) are read from the store
// in batches, and each level it shows is compared with the level Tradewind would
// publish now (domain.CompareShownLevel). A drifted SKU's push is made pending
// again (domain.PublishedStockStore.Repush): the outbox dispatcher queues it
// after the destination's debounce and the same push writes it, reading the
// store's quantity and setting it with compare-and-set. A dry run only reports.
// A batch whose read keeps failing, or stays throttled, is reported in the
// destination's errors and the pass goes on with the next.

// stockReadTries bounds the reads of one batch: a throttled read waits for the
// cost budget (at most maxStockWait) and tries again.
const (
	stockReadTries = 3
	maxStockWait   = time.Minute
)

// stockBatch is how many SKUs one read names (StockBatch when set).
func (r *Reconciler) stockBatch() int {
	if r.p.StockBatch > 0 {
		return r.p.StockBatch
	}
	return 50
}

// storefrontStock compares every stock destination's store with what Tradewind
// publishes. Only an error of Tradewind's own database ends it.
func (r *Reconciler) storefrontStock(ctx context.Context, dryRun bool) ([]domain.StorefrontStockReport, error) {
	out := []domain.StorefrontStockReport{}
	if r.p.StockDestinations == nil || r.p.Published == nil {
		return out, nil
	}
	dests := r.p.StockDestinations()
	slices.SortFunc(dests, func(a, b domain.Destination) int { return strings.Compare(a.ID, b.ID) })
	states := map[string]domain.DestinationState{}
	if r.p.DestinationStates != nil && len(dests) > 0 {
		ids := make([]string, len(dests))
		for i, d := range dests {
			ids[i] = d.ID
		}
		var err error
		if states, err = r.p.DestinationStates.States(ctx, ids); err != nil {
			return out, dbError{err}
		}
	}
	for _, d := range dests {
		ch, ok := r.stockChannel(d.Kind)
		if !ok {
			continue
		}
		rep := &stockReport{StorefrontStockReport: domain.StorefrontStockReport{Destination: d.ID, Errors: []string{}}}
		if st, ok := states[d.ID]; ok && !st.Enabled {
			rep.errorf("not compared: the destination is disabled (%s); enable it with POST /api/v1/destinations/%s/enable", st.DisabledReason, d.ID)
			out = append(out, rep.StorefrontStockReport)
			continue
		}
		err := r.compareDestination(ctx, ch, d, dryRun, rep)
		out = append(out, rep.StorefrontStockReport)
		if err != nil {
			return out, err
		}
		r.p.Logger.Info("storefront stock compared", slog.String("destination", d.ID), slog.Int("compared", rep.Compared),
			slog.Int("drift", rep.Drift), slog.Int("repaired", rep.Repaired), slog.Int("errors", len(rep.Errors)))
	}
	return out, nil
}

func (r *Reconciler) stockChannel(kind string) (domain.StockChannel, bool) {
	if r.p.StockChannel == nil {
		return nil, false
	}
	return r.p.StockChannel(kind)
}

// compareDestination walks what d was published, a batch at a time.
func (r *Reconciler) compareDestination(ctx context.Context, ch domain.StockChannel, d domain.Destination, dryRun bool,
	rep *stockReport) error {
	batch := make([]domain.PublishedStock, 0, r.stockBatch())
	for p, err := range r.p.Published.Published(ctx, d.ID) {
		if err != nil {
			return dbError{err}
		}
		batch = append(batch, p)
		if len(batch) == cap(batch) {
			if err := r.compareBatch(ctx, ch, d, batch, dryRun, rep); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return r.compareBatch(ctx, ch, d, batch, dryRun, rep)
}

// compareBatch reads one batch's levels from the store and repairs what drifted.
func (r *Reconciler) compareBatch(ctx context.Context, ch domain.StockChannel, d domain.Destination, batch []domain.PublishedStock,
	dryRun bool, rep *stockReport) error {
	if len(batch) == 0 {
		return nil
	}
	skus := make([]string, len(batch))
	published := make(map[string]int64, len(batch))
	for i, p := range batch {
		skus[i], published[p.SKU] = p.SKU, p.Published
	}
	shown, err := r.readLevels(ctx, ch, d, skus)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The channel's errors are written for people and carry no secrets.
		rep.errorf("SKUs %s … %s: the store's levels could not be read after %d tries: %v", skus[0], skus[len(skus)-1], stockReadTries, err)
		return nil
	}
	for _, l := range shown {
		want, err := ch.Target(ctx, d, l.SKU)
		if err != nil {
			return dbError{err}
		}
		rep.Compared++
		drift, detail, drifted := domain.CompareShownLevel(d.ID, l.SKU, l.Shown, want, published[l.SKU])
		if !drifted {
			continue
		}
		rep.Drift++
		r.p.Logger.Info("storefront stock drift", slog.String("detail", detail), slog.Int64("shown", drift.Shown),
			slog.Int64("want", drift.Want), slog.Bool("dry_run", dryRun))
		if dryRun {
			continue
		}
		if err := r.p.Published.Repush(ctx, d.ID, l.SKU); err != nil {
			return dbError{err}
		}
		rep.Repaired++
	}
	if rep.Repaired > 0 && r.p.Kick != nil {
		r.p.Kick()
	}
	return nil
}

// readLevels reads a batch's levels, waiting out a throttle and trying again.
func (r *Reconciler) readLevels(ctx context.Context, ch domain.StockChannel, d domain.Destination, skus []string) ([]domain.ShownLevel, error) {
	var err error
	for try := range stockReadTries {
		var shown []domain.ShownLevel
		if shown, err = ch.ShownLevels(ctx, d, skus); err == nil {
			return shown, nil
		}
		if ctx.Err() != nil || try == stockReadTries-1 {
			break
		}
		wait := time.Second
		var th *domain.Throttled
		if errors.As(err, &th) && th.Wait > 0 {
			wait = min(th.Wait, maxStockWait)
		}
		if serr := r.sleep(ctx, wait); serr != nil {
			return nil, serr
		}
	}
	return nil, err
}

func (r *Reconciler) sleep(ctx context.Context, d time.Duration) error {
	if r.p.Sleep != nil {
		return r.p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stockReport is one destination's report while it is being filled.
type stockReport struct {
	domain.StorefrontStockReport
}

func (p *stockReport) errorf(format string, args ...any) {
	switch {
	case len(p.Errors) < maxErrors:
		p.Errors = append(p.Errors, fmt.Sprintf(format, args...))
	case len(p.Errors) == maxErrors:
		p.Errors = append(p.Errors, "… further errors left out")
	}
}

// storefrontDrift sums the drift the run found in the stores.
func storefrontDrift(reps []domain.StorefrontStockReport) int {
	n := 0
	for _, r := range reps {
		n += r.Drift
	}
	return n
}
