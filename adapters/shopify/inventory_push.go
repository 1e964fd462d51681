package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhookdest"
	"github.com/tradewind/tradewind/domain"
)

// Settings of a shopify_inventory destination: stock pushed back to a Shopify
// store through the Admin GraphQL API.
const (
	PushSource       = "source"        // the shopify source whose store it is (its shop_domain, admin_token, api_base_url are used when these are not set)
	PushLocation     = "location_id"   // the location whose available quantity is set (gid://shopify/Location/…)
	PushSafetyBuffer = "safety_buffer" // held back from what is available (default 0); parsed into domain.Destination.Stock
	PushMaxPublished = "max_published" // never publish more (default: no cap); parsed into domain.Destination.Stock
	PushSKUs         = "skus"          // per-SKU safety_buffer and max_published; parsed into domain.Destination.SKUStock
	PushDebounce     = "debounce"      // how long a push waits for more changes (default 2s)
	PushShopDomain   = "shop_domain"   // acme.myshopify.com
	PushAdminToken   = "admin_token"   // the custom app's Admin API access token
	PushAPIBaseURL   = "api_base_url"  // default https://{shop_domain}
	PushAPIVersion   = "api_version"   // default DefaultAdminAPIVersion
)

// InventoryPushKeys are the keys a shopify_inventory destination may have.
var InventoryPushKeys = []string{PushSource, PushLocation, PushSafetyBuffer, PushMaxPublished, PushSKUs, PushDebounce, PushShopDomain,
	PushAdminToken, PushAPIBaseURL, PushAPIVersion}

// InventorySKUKeys are the keys of one SKU's entry under skus.
var InventorySKUKeys = []string{PushSafetyBuffer, PushMaxPublished}

// DefaultAdminAPIVersion is the Admin API version pushes use.
const DefaultAdminAPIVersion = "2025-07"

// DefaultPushDebounce is how long a push waits for more changes to its SKU.
const DefaultPushDebounce = 2 * time.Second

// AccessTokenHeader authenticates Admin API calls.
const AccessTokenHeader = "X-Shopify-Access-Token"

// casTries bounds the compare-and-set rounds of one attempt: a stale compare
// quantity is re-read and tried again, never overwritten blindly.
const casTries = 5

// InventoryPusher is the domain.Sender of kind shopify_inventory. A delivery
// names only a SKU: the level is read when the push runs, so however many
// changes were folded into it, it publishes the latest.
type InventoryPusher struct {
	Stock interface {
		Stock(ctx context.Context, sku string) (domain.Stock, error)
	}
	Published interface {
		SetPublished(ctx context.Context, destination, sku string, qty int64, at time.Time) error
	}
	Client *http.Client // nil: http.DefaultClient
	Now    func() time.Time
}

var _ domain.Sender = (*InventoryPusher)(nil)

// Send implements domain.Sender.
func (p *InventoryPusher) Send(ctx context.Context, d domain.Destination, o domain.Outbound, _ time.Time) domain.SendResult {
	start := time.Now()
	res := p.push(ctx, d, o.SKU)
	res.Latency = time.Since(start)
	return res
}

func (p *InventoryPusher) push(ctx context.Context, d domain.Destination, sku string) domain.SendResult {
	if sku == "" {
		return domain.SendResult{StatusCode: http.StatusNoContent}
	}
	target, err := p.Target(ctx, d, sku)
	if err != nil {
		return domain.SendResult{Err: err, Local: true}
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = domain.DefaultDestinationTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for range casTries {
		item, current, found, res := p.read(ctx, d, sku)
		if res.Err != nil {
			return res
		}
		if !found {
			return domain.SendResult{StatusCode: http.StatusNoContent} // the store does not stock this SKU at the location
		}
		if current != target {
			var stale bool
			stale, res = p.set(ctx, d, item, target, current)
			if stale {
				continue // someone changed it since we read it: read again
			}
			if res.Err != nil {
				return res
			}
		}
		if err := p.Published.SetPublished(ctx, d.ID, sku, target, p.now()); err != nil {
			return domain.SendResult{StatusCode: http.StatusOK, Err: fmt.Errorf("record the published level: %w", err), Local: true}
		}
		return domain.SendResult{StatusCode: http.StatusOK}
	}
	return domain.SendResult{StatusCode: http.StatusConflict, Err: fmt.Errorf("the store's quantity of %q changed under %d compare-and-set rounds; will try again", sku, casTries)}
}

// Target is the level a push of sku to d sets now: domain.PublishedLevel of
// what is available, with the SKU's effective safety_buffer and max_published
// (its own under skus where set, else the destination's); the nightly
// reconciliation compares the store with it.
func (p *InventoryPusher) Target(ctx context.Context, d domain.Destination, sku string) (int64, error) {
	st, err := p.Stock.Stock(ctx, sku)
	if err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
		return 0, fmt.Errorf("read stock of %q: %w", sku, err)
	}
	return domain.PublishedLevel(st.Available, d.StockPolicyOf(sku)), nil
}

func (p *InventoryPusher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

const readQuery = `query StockOf($q: String!, $loc: ID!) {
  productVariants(first: 2, query: $q) {
    nodes { sku inventoryItem { id inventoryLevel(locationId: $loc) { quantities(names: ["available"]) { name quantity } } } }
  }
}`

const setMutation = `mutation SetStock($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}`

// read returns the SKU's inventory item and its available quantity at the location.
func (p *InventoryPusher) read(ctx context.Context, d domain.Destination, sku string) (item string, available int64, found bool, res domain.SendResult) {
	var out struct {
		ProductVariants struct {
			Nodes []struct {
				SKU           string `json:"sku"`
				InventoryItem struct {
					ID             string `json:"id"`
					InventoryLevel *struct {
						Quantities []struct {
							Name     string `json:"name"`
							Quantity int64  `json:"quantity"`
						} `json:"quantities"`
					} `json:"inventoryLevel"`
				} `json:"inventoryItem"`
			} `json:"nodes"`
		} `json:"productVariants"`
	}
	res = p.call(ctx, d, readQuery, map[string]any{"q": "sku:" + strconv.Quote(sku), "loc": d.Settings[PushLocation]}, &out)
	if res.Err != nil {
		return "", 0, false, res
	}
	for _, n := range out.ProductVariants.Nodes {
		if n.SKU != sku || n.InventoryItem.InventoryLevel == nil {
			continue
		}
		for _, q := range n.InventoryItem.InventoryLevel.Quantities {
			if q.Name == "available" {
				return n.InventoryItem.ID, q.Quantity, true, res
			}
		}
	}
	return "", 0, false, res
}

// set sets the available quantity of item to target if it still is compare.
func (p *InventoryPusher) set(ctx context.Context, d domain.Destination, item string, target, compare int64) (stale bool, res domain.SendResult) {
	var out struct {
		InventorySetQuantities struct {
			UserErrors []struct {
				Message string `json:"message"`
				Code    string `json:"code"`
			} `json:"userErrors"`
		} `json:"inventorySetQuantities"`
	}
	input := map[string]any{"name": "available", "reason": "correction", "ignoreCompareQuantity": false,
		"quantities": []map[string]any{{"inventoryItemId": item, "locationId": d.Settings[PushLocation], "quantity": target, "compareQuantity": compare}}}
	res = p.call(ctx, d, setMutation, map[string]any{"input": input}, &out)
	if res.Err != nil {
		return false, res
	}
	for _, e := range out.InventorySetQuantities.UserErrors {
		if e.Code == "COMPARE_QUANTITY_STALE" {
			return true, res
		}
		res.Err = fmt.Errorf("Shopify refused the quantity: %s: %.200s", e.Code, e.Message)
		return false, res
	}
	return false, res
}

// call posts one GraphQL operation; a throttled answer is a failure that waits
// until the cost budget has restored enough.
func (p *InventoryPusher) call(ctx context.Context, d domain.Destination, query string, vars map[string]any, into any) domain.SendResult {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, adminURL(d), bytes.NewReader(body))
	if err != nil {
		return domain.SendResult{Err: fmt.Errorf("shopify_inventory: %w", err), Local: true}
	}
	req.Header.Set(AccessTokenHeader, d.Settings[PushAdminToken])
	req.Header.Set("Content-Type", "application/json")
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return domain.SendResult{Err: errors.New("Shopify did not answer within the timeout")}
		}
		return domain.SendResult{Err: fmt.Errorf("Shopify request failed: %v", err)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return webhookdest.Result(resp.StatusCode, resp.Header.Get("Retry-After"), raw, 0, time.Now())
	}
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
		Extensions struct {
			Cost struct {
				RequestedQueryCost float64 `json:"requestedQueryCost"`
				ThrottleStatus     struct {
					CurrentlyAvailable float64 `json:"currentlyAvailable"`
					RestoreRate        float64 `json:"restoreRate"`
				} `json:"throttleStatus"`
			} `json:"cost"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return domain.SendResult{StatusCode: resp.StatusCode, Err: errors.New("Shopify answered with a body that is not GraphQL JSON")}
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		if e.Extensions.Code == "THROTTLED" {
			return domain.SendResult{StatusCode: http.StatusTooManyRequests, Err: errors.New("Shopify throttled the call (cost budget spent)"),
				RetryAfter: restoreWait(out.Extensions.Cost.RequestedQueryCost, out.Extensions.Cost.ThrottleStatus.CurrentlyAvailable,
					out.Extensions.Cost.ThrottleStatus.RestoreRate)}
		}
		return domain.SendResult{StatusCode: resp.StatusCode, Err: fmt.Errorf("Shopify GraphQL error: %.200s", e.Message)}
	}
	if err := json.Unmarshal(out.Data, into); err != nil {
		return domain.SendResult{StatusCode: resp.StatusCode, Err: fmt.Errorf("Shopify answered an unexpected shape: %v", err)}
	}
	return domain.SendResult{StatusCode: resp.StatusCode}
}

// restoreWait is how long until the cost budget holds what a call needs: the
// missing points at the restore rate, at least a second.
func restoreWait(requested, available, restoreRate float64) time.Duration {
	if restoreRate <= 0 || requested <= available {
		return time.Second
	}
	return max(time.Duration(math.Ceil((requested-available)/restoreRate))*time.Second, time.Second)
}

func adminURL(d domain.Destination) string {
	base := strings.TrimRight(d.Settings[PushAPIBaseURL], "/")
	if base == "" {
		base = "https://" + d.Settings[PushShopDomain]
	}
	version := d.Settings[PushAPIVersion]
	if version == "" {
		version = DefaultAdminAPIVersion
	}
	return base + "/admin/api/" + version + "/graphql.json"
}
