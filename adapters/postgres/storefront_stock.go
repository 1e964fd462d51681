package postgres

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// StorefrontStock is what the nightly reconciliation's storefront stock pass
// reads of published_stock and how it corrects a drifted store: through the
// destination's coalesced stock push, made pending again exactly as an applied
// stock change makes it (insertOutgoing), so the same worker and the same
// compare-and-set write it.
type StorefrontStock struct {
	DB sqlx.ExtContext
	// PageSize is the keyset page (500 when 0).
	PageSize int
	Now      func() time.Time
}

var _ domain.PublishedStockStore = (*StorefrontStock)(nil)

func (s *StorefrontStock) now() time.Time {
	if s.Now == nil {
		return time.Now().Truncate(time.Microsecond)
	}
	return s.Now().Truncate(time.Microsecond)
}

// Published implements domain.PublishedStockStore: a keyset cursor over the
// primary key (destination, sku), a page in memory at a time.
func (s *StorefrontStock) Published(ctx context.Context, destination string) iter.Seq2[domain.PublishedStock, error] {
	size := s.PageSize
	if size <= 0 {
		size = 500
	}
	return func(yield func(domain.PublishedStock, error) bool) {
		first, after := true, ""
		for {
			var page []domain.PublishedStock
			err := sqlx.SelectContext(ctx, s.DB, &page, `SELECT destination, sku, published, confirmed_at FROM published_stock
				WHERE destination = $1 AND ($2 OR sku > $3) ORDER BY sku LIMIT $4`, destination, first, after, size)
			if err != nil {
				yield(domain.PublishedStock{}, translate(fmt.Sprintf("published stock of %q", destination), err))
				return
			}
			for _, p := range page {
				if !yield(p, nil) {
					return
				}
			}
			if len(page) < size {
				return
			}
			first, after = false, page[len(page)-1].SKU
		}
	}
}

// Repush implements domain.PublishedStockStore: the destination's push of sku
// (one row per destination and SKU, domain.CoalescedStockKey) is pending again
// with a new generation and no task, for the dispatcher to queue after the
// destination's debounce; an attempt running meanwhile does not make it
// delivered.
func (s *StorefrontStock) Repush(ctx context.Context, destination, sku string) error {
	key := domain.CoalescedStockKey(sku)
	_, err := s.DB.ExecContext(ctx, `
		INSERT INTO deliveries (destination, event_type, event_key, sku, webhook_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (destination, event_key) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = NULL,
			queued_at = NULL, generation = deliveries.generation + 1, updated_at = EXCLUDED.updated_at`,
		destination, string(domain.DownStockChanged), key, sku, domain.WebhookID(destination, key), s.now())
	return translate(fmt.Sprintf("queue the stock push of %q to %s again", sku, destination), err)
}
