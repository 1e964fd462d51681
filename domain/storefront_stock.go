package domain

import (
	"context"
	"fmt"
	"iter"
	"time"
)

// The storefront stock pass of the nightly reconciliation: for each stock
// destination (shopify_inventory), what the store shows of every SKU Tradewind
// has published there is compared with the level Tradewind would publish now
// (PublishedLevel of what is available). A difference is drift, and it is
// corrected through the same push the outbox makes (the destination's pending
// push of the SKU, reset to pending), which reads the store's quantity and sets
// it with compare-and-set: never a blind overwrite.

// StorefrontStockReport is what a run found for one stock destination.
type StorefrontStockReport struct {
	Destination string `json:"destination"`
	Compared    int    `json:"compared"` // SKUs whose level the store showed
	Drift       int    `json:"drift"`    // SKUs the store showed at another level than Tradewind publishes
	Repaired    int    `json:"repaired"` // drifted SKUs whose push was queued again (0 in a dry run)
	// Errors are what could not be compared or repaired: a read that kept
	// failing or was throttled. The run goes on past them.
	Errors []string `json:"errors"`
}

// ShownLevel is a SKU's level as a storefront shows it at a destination's location.
type ShownLevel struct {
	SKU   string
	Shown int64
}

// StockLevelDrift is a SKU a storefront shows at another level than the one
// Tradewind would publish now.
type StockLevelDrift struct {
	SKU       string
	Shown     int64 // what the store shows
	Want      int64 // what Tradewind would publish now
	Published int64 // what Tradewind last published (and the store confirmed)
}

// CompareShownLevel decides whether a store's level (shown) drifted from the
// level Tradewind would publish now (want), with a detail naming both and what
// was last published.
func CompareShownLevel(destination, sku string, shown, want, published int64) (StockLevelDrift, string, bool) {
	if shown == want {
		return StockLevelDrift{}, "", false
	}
	return StockLevelDrift{SKU: sku, Shown: shown, Want: want, Published: published},
		fmt.Sprintf("%s: SKU %q: the store shows %d, Tradewind publishes %d (last published %d)", destination, sku, shown, want, published), true
}

// StockChannel reads a stock destination's store.
type StockChannel interface {
	// ShownLevels returns the level the store shows of each of skus at the
	// destination's location; a SKU the store does not stock there is left out.
	// A throttled read returns a *Throttled.
	ShownLevels(ctx context.Context, d Destination, skus []string) ([]ShownLevel, error)
	// Target is the level Tradewind would publish of sku to d now: the level the
	// destination's push sets.
	Target(ctx context.Context, d Destination, sku string) (int64, error)
}

// PublishedStockStore is what the storefront stock pass reads and writes of
// what destinations were told.
type PublishedStockStore interface {
	// Published walks what destination last published, in SKU order (the index's): a
	// keyset cursor, a page in memory at a time.
	Published(ctx context.Context, destination string) iter.Seq2[PublishedStock, error]
	// Repush makes the destination's push of sku pending again (its coalesced
	// stock delivery, created when there is none), to be queued by the outbox
	// dispatcher like any other.
	Repush(ctx context.Context, destination, sku string) error
}

// Throttled is a call a provider refused for now (rate limit or cost budget);
// Wait is how long it asked to wait.
type Throttled struct {
	Wait time.Duration
	Err  error
}

func (e *Throttled) Error() string {
	return fmt.Sprintf("%v (retry in %s)", e.Err, e.Wait)
}

func (e *Throttled) Unwrap() error { return e.Err }
