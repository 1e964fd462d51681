package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/domain"
)

// TypePrune deletes what is older than the retention policy (TRADEWIND_RETENTION, or a
// source's `retention`): finished inbox rows with their applied-event records and
// rejections, old rejections, finished reservations; stock ledger rows are folded into
// a carried row per SKU.
const TypePrune = "retention:prune"

// NewPruneTask returns the prune task (fixed id: one queued at a time).
func NewPruneTask() *asynq.Task {
	return asynq.NewTask(TypePrune, nil, asynq.TaskID("retention-prune"), asynq.Queue(QueueLow),
		asynq.MaxRetry(0), asynq.Timeout(30*time.Minute))
}

// RetryWindows is how long each provider keeps retrying an unacknowledged webhook, as
// its documentation says (for senders that do not retry, a day or more of margin).
// A duplicate arriving inside the window must still find its inbox row, so no
// source's retention may be shorter than its provider's window.
var RetryWindows = map[string]time.Duration{
	"adyen":            30 * 24 * time.Hour, // a retry queue per endpoint, for 30 days
	"stripe":           3 * 24 * time.Hour,  // live mode: up to three days
	"paypal":           3 * 24 * time.Hour,  // up to 25 times over three days
	"fygaro":           3 * 24 * time.Hour,  // undocumented: Stripe's window
	"hmac":             3 * 24 * time.Hour,  // any sender: Stripe's window
	"bigcommerce":      48 * time.Hour,      // retries for 48 hours, then deactivates the hook
	"standardwebhooks": 48 * time.Hour,      // Svix's schedule spans ~28 hours
	"square":           24 * time.Hour,      // retries for up to 24 hours
	"woocommerce":      24 * time.Hour,      // a few retries by Action Scheduler
	"powertranz":       24 * time.Hour,      // callbacks relayed by the browser: not retried
	"plugnpay":         24 * time.Hour,      // callbacks relayed by the browser: not retried
	"shopify":          4 * time.Hour,       // 8 retries over 4 hours
}

// fallbackWindow is the window of a provider missing from RetryWindows.
const fallbackWindow = 30 * 24 * time.Hour

// RetentionPolicy returns each source's retention: its `retention` setting, or global.
// Returns EINVALID naming the source and key when one is not a duration, or is
// shorter than its provider's retry window (or global is, for a source without its own).
func RetentionPolicy(global time.Duration, sources map[string]domain.Source) (map[string]time.Duration, error) {
	ids := make([]string, 0, len(sources))
	for id := range sources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make(map[string]time.Duration, len(sources))
	for _, id := range ids {
		src := sources[id]
		window, ok := RetryWindows[src.Provider]
		if !ok {
			window = fallbackWindow
		}
		d, key := global, "TRADEWIND_RETENTION"
		if raw := src.Settings["retention"]; raw != "" {
			key = fmt.Sprintf("retention of source %q in the sources file", id)
			var err error
			if d, err = time.ParseDuration(raw); err != nil {
				return nil, domain.Errorf(domain.EINVALID, "%s is %q, not a duration; write e.g. 720h", key, raw)
			}
		}
		if d < window {
			return nil, domain.Errorf(domain.EINVALID,
				"%s is %s, shorter than %s's retry window (%s, source %q): a duplicate arriving later would be applied again; set at least %s",
				key, d, src.Provider, window, id, window)
		}
		out[id] = d
	}
	return out, nil
}

// Pruner removes old rows in small batches (adapters/postgres.Retention); the
// counts name what was removed.
type Pruner interface {
	// PruneWebhooks prunes the rows of sources (of every other source when others is true).
	PruneWebhooks(ctx context.Context, sources []string, others bool, cutoff time.Time) (map[string]int64, error)
	PruneStock(ctx context.Context, cutoff time.Time) (map[string]int64, error)
}

// Prune is the handler for TypePrune.
type Prune struct {
	Pruner    Pruner
	Retention map[string]time.Duration // per configured source, from RetentionPolicy
	Default   time.Duration            // TRADEWIND_RETENTION: stock, and sources no longer (or never) configured
	Now       func() time.Time
	Logger    *slog.Logger
}

// ProcessTask implements asynq.Handler.
func (h *Prune) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	now := h.Now()
	total := map[string]int64{}
	add := func(c map[string]int64) {
		for k, v := range c {
			total[k] += v
		}
	}
	defer func() {
		var attrs []any
		for _, k := range []string{"inbox", "applied_events", "rejections", "ledger_folded", "reservations"} {
			if total[k] > 0 {
				attrs = append(attrs, slog.Int64(k, total[k]))
			}
		}
		if len(attrs) > 0 {
			h.Logger.Info("retention pruned old rows", attrs...)
		}
	}()
	configured := make([]string, 0, len(h.Retention))
	for id := range h.Retention {
		configured = append(configured, id)
	}
	sort.Strings(configured)
	for _, id := range configured {
		c, err := h.Pruner.PruneWebhooks(ctx, []string{id}, false, now.Add(-h.Retention[id]))
		add(c)
		if err != nil {
			return err
		}
	}
	// Removed sources, and the rejections of requests to sources that never existed.
	c, err := h.Pruner.PruneWebhooks(ctx, configured, true, now.Add(-h.Default))
	add(c)
	if err != nil {
		return err
	}
	c, err = h.Pruner.PruneStock(ctx, now.Add(-h.Default))
	add(c)
	return err
}
