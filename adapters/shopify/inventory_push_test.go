package shopify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/shopify/shopifytest"
	"github.com/tradewind/tradewind/domain"
)

type stockMap map[string]int64

func (m stockMap) Stock(_ context.Context, sku string) (domain.Stock, error) {
	return domain.Stock{SKU: sku, OnHand: m[sku], Available: m[sku]}, nil
}

type published struct {
	mu  sync.Mutex
	got map[string]int64
}

func (p *published) SetPublished(_ context.Context, _, sku string, qty int64, _ time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got == nil {
		p.got = map[string]int64{}
	}
	p.got[sku] = qty
	return nil
}

func pushDest(url string) domain.Destination {
	return domain.Destination{ID: "acme-shop-stock", Kind: domain.DestinationShopifyInventory, Timeout: time.Second,
		Settings: map[string]string{shopify.PushAPIBaseURL: url, shopify.PushAdminToken: "shpat_test", shopify.PushLocation: shopifytest.Location,
			shopify.PushSafetyBuffer: "2"}}
}

// A push meeting a stale compare quantity (the store sold one meanwhile) reads
// again and sets against what it read, never overwriting blindly; it converges
// on available − safety_buffer.
func TestStockPushRereadsOnStaleCompareAndConverges(t *testing.T) {
	t.Parallel()
	store := shopifytest.New("shpat_test", map[string]int64{"MUG": 40})
	t.Cleanup(store.Close)
	interfered := 0
	store.Interfere(func(_ string, level int64) int64 {
		if interfered < 2 {
			interfered++
			return level - 1 // a sale at the shop, between our read and our write
		}
		return level
	})
	pub := &published{}
	p := &shopify.InventoryPusher{Stock: stockMap{"MUG": 12}, Published: pub}
	res := p.Send(context.Background(), pushDest(store.URL), domain.Outbound{Type: domain.DownStockChanged, SKU: "MUG"}, time.Now())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	applied, stale := store.Mutations()
	if store.Level("MUG") != 10 || applied != 1 || stale != 2 || pub.got["MUG"] != 10 {
		t.Errorf("level %d, %d applied, %d stale, published %v; want 10 (12 less the buffer of 2) after two stale rounds",
			store.Level("MUG"), applied, stale, pub.got)
	}
}

func TestStockPushThrottledBacksOffAndUnknownSKUIsSkipped(t *testing.T) {
	t.Parallel()
	store := shopifytest.New("shpat_test", map[string]int64{"MUG": 1})
	t.Cleanup(store.Close)
	p := &shopify.InventoryPusher{Stock: stockMap{"MUG": 5}, Published: &published{}}
	store.Throttle(1)
	res := p.Send(context.Background(), pushDest(store.URL), domain.Outbound{SKU: "MUG"}, time.Now())
	if res.Err == nil || res.StatusCode != 429 || res.RetryAfter < time.Second {
		t.Errorf("throttled: %+v; want a failure that waits for the budget", res)
	}
	if res := p.Send(context.Background(), pushDest(store.URL), domain.Outbound{SKU: "NOT-SOLD-HERE"}, time.Now()); res.Err != nil {
		t.Errorf("a SKU the store does not stock: %v; want nothing pushed", res.Err)
	}
	d := pushDest(store.URL)
	d.Settings[shopify.PushMaxPublished] = "2"
	if res := p.Send(context.Background(), d, domain.Outbound{SKU: "MUG"}, time.Now()); res.Err != nil || store.Level("MUG") != 2 {
		t.Errorf("capped push: %v, level %d; want 2 (max_published)", res.Err, store.Level("MUG"))
	}
}
