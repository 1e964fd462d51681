package shopify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
		Stock:    domain.StockPolicy{SafetyBuffer: 2},
		Settings: map[string]string{shopify.PushAPIBaseURL: url, shopify.PushAdminToken: "shpat_test", shopify.PushLocation: shopifytest.Location}}
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
	capAt := int64(2)
	d.Stock.MaxPublished = &capAt
	if res := p.Send(context.Background(), d, domain.Outbound{SKU: "MUG"}, time.Now()); res.Err != nil || store.Level("MUG") != 2 {
		t.Errorf("capped push: %v, level %d; want 2 (max_published)", res.Err, store.Level("MUG"))
	}
}

// A SKU's own safety_buffer and max_published replace the destination's for
// that SKU only; a field it leaves out keeps the destination's.
func TestStockPushUsesPerSKUOverrides(t *testing.T) {
	t.Parallel()
	n := func(v int64) *int64 { return &v }
	store := shopifytest.New("shpat_test", map[string]int64{"HOT-1": 0, "MUG": 0, "CUP": 0})
	t.Cleanup(store.Close)
	pub := &published{}
	p := &shopify.InventoryPusher{Stock: stockMap{"HOT-1": 40, "MUG": 100, "CUP": 12}, Published: pub}
	d := pushDest(store.URL)
	d.Stock = domain.StockPolicy{SafetyBuffer: 2, MaxPublished: n(50)}
	d.SKUStock = map[string]domain.StockOverride{
		"HOT-1": {SafetyBuffer: n(10), MaxPublished: n(5)},
		"CUP":   {SafetyBuffer: n(10)},
	}
	for _, sku := range []string{"HOT-1", "MUG", "CUP"} {
		if res := p.Send(context.Background(), d, domain.Outbound{Type: domain.DownStockChanged, SKU: sku}, time.Now()); res.Err != nil {
			t.Fatalf("push %s: %v", sku, res.Err)
		}
	}
	want := map[string]int64{
		"HOT-1": 5,  // min(40 − 10, 5): the SKU's buffer and cap
		"MUG":   50, // min(100 − 2, 50): the destination's
		"CUP":   2,  // 12 − 10, under the destination's cap of 50
	}
	got := map[string]int64{"HOT-1": store.Level("HOT-1"), "MUG": store.Level("MUG"), "CUP": store.Level("CUP")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("store levels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, pub.got); diff != "" {
		t.Errorf("recorded published levels (-want +got):\n%s", diff)
	}
	// The nightly reconciliation compares the store with Target: the same levels.
	targets := map[string]int64{}
	for sku := range want {
		v, err := p.Target(context.Background(), d, sku)
		if err != nil {
			t.Fatal(err)
		}
		targets[sku] = v
	}
	if diff := cmp.Diff(want, targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
}
