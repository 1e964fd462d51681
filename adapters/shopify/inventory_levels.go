package shopify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tradewind/tradewind/domain"
)

// The nightly reconciliation reads what a store shows of many SKUs at once: one
// productVariants query for a batch of SKUs (sku:"A" OR sku:"B" …), the same
// fields a push reads, paged by cursor.

var _ domain.StockChannel = (*InventoryPusher)(nil)

// MaxLevelBatch is the most SKUs one levels query names; a page holds
// levelsPage variants (a query's cost stays far under Shopify's 1,000 points).
const (
	MaxLevelBatch = 50
	levelsPage    = 100
)

const levelsQuery = `query StockLevels($q: String!, $loc: ID!, $first: Int!, $after: String) {
  productVariants(first: $first, after: $after, query: $q) {
    nodes { sku inventoryItem { id inventoryLevel(locationId: $loc) { quantities(names: ["available"]) { name quantity } } } }
    pageInfo { hasNextPage endCursor }
  }
}`

// ShownLevels implements domain.StockChannel: the available quantity the store
// shows of each of skus (at most MaxLevelBatch) at the destination's location,
// in the order of skus. A SKU the store does not stock there is left out. A
// throttled read is a *domain.Throttled that says how long the cost budget
// needs to restore.
func (p *InventoryPusher) ShownLevels(ctx context.Context, d domain.Destination, skus []string) ([]domain.ShownLevel, error) {
	if len(skus) == 0 {
		return nil, nil
	}
	if len(skus) > MaxLevelBatch {
		return nil, fmt.Errorf("shopify: %d SKUs in one levels query; at most %d", len(skus), MaxLevelBatch)
	}
	terms := make([]string, len(skus))
	for i, s := range skus {
		terms[i] = "sku:" + strconv.Quote(s)
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = domain.DefaultDestinationTimeout
	}
	want := make(map[string]bool, len(skus))
	for _, s := range skus {
		want[s] = true
	}
	shown := map[string]int64{}
	var after any
	for {
		var out struct {
			ProductVariants struct {
				Nodes []struct {
					SKU           string `json:"sku"`
					InventoryItem struct {
						InventoryLevel *struct {
							Quantities []struct {
								Name     string `json:"name"`
								Quantity int64  `json:"quantity"`
							} `json:"quantities"`
						} `json:"inventoryLevel"`
					} `json:"inventoryItem"`
				} `json:"nodes"`
				PageInfo struct {
					HasNextPage bool   `json:"hasNextPage"`
					EndCursor   string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"productVariants"`
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		res := p.call(cctx, d, levelsQuery, map[string]any{"q": strings.Join(terms, " OR "), "loc": d.Settings[PushLocation],
			"first": levelsPage, "after": after}, &out)
		cancel()
		if res.Err != nil {
			if res.StatusCode == http.StatusTooManyRequests {
				return nil, &domain.Throttled{Wait: res.RetryAfter, Err: res.Err}
			}
			return nil, res.Err
		}
		for _, n := range out.ProductVariants.Nodes {
			if !want[n.SKU] || n.InventoryItem.InventoryLevel == nil {
				continue
			}
			if _, dup := shown[n.SKU]; dup {
				continue // the push sets the first variant it finds; compare that one
			}
			for _, q := range n.InventoryItem.InventoryLevel.Quantities {
				if q.Name == "available" {
					shown[n.SKU] = q.Quantity
				}
			}
		}
		pi := out.ProductVariants.PageInfo
		if !pi.HasNextPage {
			break
		}
		if pi.EndCursor == "" {
			return nil, errors.New("Shopify said there is a next page of variants but gave no cursor")
		}
		after = pi.EndCursor
	}
	levels := make([]domain.ShownLevel, 0, len(shown))
	for _, s := range skus {
		if l, ok := shown[s]; ok {
			levels = append(levels, domain.ShownLevel{SKU: s, Shown: l})
			delete(shown, s) // a SKU named twice is shown once
		}
	}
	return levels, nil
}
