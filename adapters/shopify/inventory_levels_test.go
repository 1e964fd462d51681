package shopify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/shopify/shopifytest"
	"github.com/tradewind/tradewind/domain"
)

// One query reads a batch of SKUs; a SKU the store does not stock is left out;
// a throttled read says how long the cost budget needs.
func TestShownLevelsReadsABatch(t *testing.T) {
	t.Parallel()
	store := shopifytest.New("shpat_test", map[string]int64{"MUG": 7, "CUP": 3, `TEA "GREEN"`: 12})
	t.Cleanup(store.Close)
	p := &shopify.InventoryPusher{}
	got, err := p.ShownLevels(context.Background(), pushDest(store.URL), []string{"CUP", "NOT-SOLD-HERE", `TEA "GREEN"`, "MUG"})
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.ShownLevel{{SKU: "CUP", Shown: 3}, {SKU: `TEA "GREEN"`, Shown: 12}, {SKU: "MUG", Shown: 7}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("levels (-want +got):\n%s", diff)
	}
	if store.Reads() != 1 {
		t.Errorf("%d reads; want one query for the batch", store.Reads())
	}

	store.Throttle(1)
	_, err = p.ShownLevels(context.Background(), pushDest(store.URL), []string{"MUG"})
	var th *domain.Throttled
	if !errors.As(err, &th) || th.Wait <= 0 {
		t.Errorf("throttled read: %v; want a *domain.Throttled with a wait", err)
	}
}
