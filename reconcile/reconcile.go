package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// Request is what to reconcile (see domain.ReconciliationRequest).
type Request = domain.ReconciliationRequest

// Params are a Reconciler's dependencies.
type Params struct {
	Store   domain.ReconcileStore
	Reports domain.ReconciliationStore
	// Sources lists the configured sources; Source finds one by id.
	Sources func() []domain.Source
	// Provider finds a provider's adapter (normalizing fetched events).
	Provider func(kind string) (domain.Provider, bool)
	// Apply applies a stored inbox entry through the worker's own path
	// (fetch/confirm, normalize, Ledger.ApplyEntry), synchronously.
	Apply func(ctx context.Context, inboxID int64) error
	// HTTP calls the providers' APIs (a client with a 30 s timeout when nil).
	HTTP *http.Client
	// Sleep waits out a provider's Retry-After, or ctx (a timer when nil).
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress, when set, hears how many records of a source have been compared so far.
	Progress func(source string, compared int)
	// StockDestinations lists the stock destinations (shopify_inventory) whose
	// stores are compared with what Tradewind publishes; StockChannel reads a
	// kind's stores; Published reads what each was published and queues a
	// drifted SKU's push again. Storefront stock is not compared when any is nil.
	StockDestinations func() []domain.Destination
	StockChannel      func(kind string) (domain.StockChannel, bool)
	Published         domain.PublishedStockStore
	// DestinationStates, when set, tells a disabled destination (after a 410),
	// which is reported and not compared.
	DestinationStates domain.Destinations
	// StockBatch is how many SKUs one read of a store names (50 when 0).
	StockBatch int
	// Kick, when set, asks the outbox dispatcher to queue the pushes made pending.
	Kick   func()
	Now    func() time.Time
	Logger *slog.Logger
}

// Reconciler compares the providers' own records with Tradewind's and repairs
// what webhooks missed.
type Reconciler struct {
	p Params
}

// New returns a Reconciler.
func New(p Params) *Reconciler {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.HTTP == nil {
		p.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{p: p}
}

// sourceReconciler reconciles one source's records into rep.
type sourceReconciler func(ctx context.Context, r *Reconciler, src domain.Source, req Request, rep *report) error

// byProvider are the providers whose records can be listed.
var byProvider = map[string]sourceReconciler{
	"stripe":      reconcileStripe,
	"shopify":     reconcileShopify,
	"woocommerce": reconcileWooCommerce,
	"bigcommerce": reconcileBigCommerce,
	"paypal":      reconcilePayPal,
	"square":      reconcileSquare,
}

// Supported reports whether a provider's sources can be reconciled.
func Supported(provider string) bool { _, ok := byProvider[provider]; return ok }

// Check validates a request against the configured sources. Returns EINVALID
// naming what is wrong.
func (r *Reconciler) Check(req Request) error {
	if req.Since.IsZero() {
		return domain.Errorf(domain.EINVALID, "since: give the start of the window, e.g. 24h ago")
	}
	until := req.Until
	if until.IsZero() {
		until = r.p.Now()
	}
	if !req.Since.Before(until) {
		return domain.Errorf(domain.EINVALID, "since must be before until")
	}
	for _, id := range req.Sources {
		src, ok := r.source(id)
		switch {
		case !ok:
			return domain.Errorf(domain.EINVALID, "sources: %q is not a configured source", id)
		case !Supported(src.Provider):
			return domain.Errorf(domain.EINVALID, "sources: %q is a %s source; reconciliation lists %s", id, src.Provider, supportedList())
		}
	}
	return nil
}

func supportedList() string {
	var out []string
	for k := range byProvider {
		out = append(out, k)
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

func (r *Reconciler) source(id string) (domain.Source, bool) {
	for _, s := range r.p.Sources() {
		if s.ID == id {
			return s, true
		}
	}
	return domain.Source{}, false
}

// Start stores a new running report for req and returns it. A req with the
// TaskKey of a stored report returns that report.
func (r *Reconciler) Start(ctx context.Context, req Request) (domain.Reconciliation, error) {
	if err := r.Check(req); err != nil {
		return domain.Reconciliation{}, err
	}
	if req.Until.IsZero() {
		req.Until = r.p.Now()
	}
	return r.p.Reports.Create(ctx, domain.Reconciliation{Since: req.Since.UTC(), Until: req.Until.UTC(), DryRun: req.DryRun,
		Requested: req.Sources, TaskKey: req.TaskKey})
}

// Run runs the reconciliation of report id (created by Start) and stores its
// report: completed, with what each source found and the errors it went past,
// or failed when it could not go on. A report that is no longer running is
// left alone (a task delivered twice runs once).
func (r *Reconciler) Run(ctx context.Context, id int64) (domain.Reconciliation, error) {
	rec, err := r.p.Reports.Get(ctx, id)
	if err != nil {
		return rec, err
	}
	if rec.Status != domain.ReconRunning {
		return rec, nil
	}
	req := Request{Since: rec.Since, Until: rec.Until, Sources: rec.Requested, DryRun: rec.DryRun}
	runErr := r.run(ctx, req, &rec)
	now := r.p.Now().UTC()
	rec.FinishedAt = &now
	rec.Status = domain.ReconCompleted
	if runErr != nil {
		rec.Status, rec.Error = domain.ReconFailed, domain.ErrorMessage(runErr)
		if domain.ErrorCode(runErr) == domain.EINTERNAL {
			rec.Error = runErr.Error()
		}
		r.p.Logger.Error("reconciliation failed", slog.Int64("id", id), slog.String("error", runErr.Error()))
	}
	// Saved even when ctx ended: the report must not stay running.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.p.Reports.Save(sctx, rec); err != nil {
		return rec, errors.Join(runErr, err)
	}
	r.p.Logger.Info("reconciliation finished", slog.Int64("id", id), slog.String("status", rec.Status),
		slog.Int("stock_drift_fixed", rec.StockDriftFixed), slog.Int("storefront_stock_drift", storefrontDrift(rec.StorefrontStock)))
	return rec, runErr
}

func (r *Reconciler) run(ctx context.Context, req Request, rec *domain.Reconciliation) error {
	if err := r.Check(req); err != nil {
		return err
	}
	var sources []domain.Source
	if len(req.Sources) == 0 {
		for _, s := range r.p.Sources() {
			if Supported(s.Provider) {
				sources = append(sources, s)
			}
		}
		slices.SortFunc(sources, func(a, b domain.Source) int { return strings.Compare(a.ID, b.ID) })
	} else {
		for _, id := range req.Sources {
			s, _ := r.source(id)
			sources = append(sources, s)
		}
	}
	rec.Sources = []domain.SourceReport{}
	for _, src := range sources {
		rep := &report{SourceReport: domain.SourceReport{Source: src.ID, Errors: []string{}}, progress: r.p.Progress}
		err := byProvider[src.Provider](ctx, r, src, req, rep)
		if err != nil {
			if ctx.Err() != nil || isDatabase(err) {
				rec.Sources = append(rec.Sources, rep.SourceReport)
				return err
			}
			rep.errorf("%s", domain.ErrorMessage(err))
			if domain.ErrorCode(err) == domain.EINTERNAL {
				r.p.Logger.Error("reconcile source", slog.String("source", src.ID), slog.String("error", err.Error()))
			}
		}
		rec.Sources = append(rec.Sources, rep.SourceReport)
	}
	n, err := r.fixStock(ctx, req.DryRun)
	rec.StockDriftFixed = n
	if err != nil {
		return err
	}
	// After the counters are set back to the ledger: the level published is
	// computed from them.
	rec.StorefrontStock, err = r.storefrontStock(ctx, req.DryRun)
	return err
}

// dbError marks errors of Tradewind's own database, which end a run.
type dbError struct{ err error }

func (e dbError) Error() string { return e.err.Error() }
func (e dbError) Unwrap() error { return e.err }

func isDatabase(err error) bool {
	var d dbError
	return errors.As(err, &d)
}

// fixStock sets every drifted SKU's counters back to its ledger's sums; a dry
// run counts them.
func (r *Reconciler) fixStock(ctx context.Context, dryRun bool) (int, error) {
	drift, err := r.p.Store.StockDrift(ctx)
	if err != nil {
		return 0, dbError{err}
	}
	n := 0
	for _, d := range drift {
		if !d.Fixable() {
			r.p.Logger.Warn("stock drift the ledger cannot fix", slog.String("sku", d.SKU),
				slog.Int64("ledger_on_hand", d.LedgerOnHand), slog.Int64("ledger_reserved", d.LedgerRs))
			continue
		}
		if dryRun {
			n++
			continue
		}
		fixed, err := r.p.Store.FixDrift(ctx, d.SKU)
		if err != nil {
			return n, err
		}
		if fixed {
			r.p.Logger.Info("stock drift fixed", slog.String("sku", d.SKU), slog.Int64("on_hand", d.OnHand),
				slog.Int64("ledger_on_hand", d.LedgerOnHand), slog.Int64("reserved", d.Reserved), slog.Int64("ledger_reserved", d.LedgerRs))
			n++
		}
	}
	return n, nil
}

// report is one source's report while it is being filled.
type report struct {
	domain.SourceReport
	mu       sync.Mutex
	progress func(source string, compared int)
}

// maxErrors bounds the errors one source's report keeps.
const maxErrors = 50

func (p *report) errorf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case len(p.Errors) < maxErrors:
		p.Errors = append(p.Errors, fmt.Sprintf(format, args...))
	case len(p.Errors) == maxErrors:
		p.Errors = append(p.Errors, "… further errors left out")
	}
}

// retried reports a failed call to a provider's API that is tried again (the
// API clients' OnRetry).
func (p *report) retried(err error) { p.errorf("%v", err) }

func (p *report) compared() {
	p.Compared++
	if p.progress != nil && p.Compared%100 == 0 {
		p.progress(p.Source, p.Compared)
	}
}
