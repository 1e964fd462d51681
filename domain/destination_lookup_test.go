package domain_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/domain"
)

func TestDestinations(t *testing.T) {
	ds := []domain.Destination{
		{ID: "crm", Kind: domain.DestinationWebhook},
		{ID: "stock", Kind: domain.DestinationShopifyInventory, Debounce: 5 * time.Second},
		{ID: "stock-eu", Kind: domain.DestinationShopifyInventory, Debounce: time.Second},
	}
	if d, ok := domain.FindDestination(ds, "stock-eu"); !ok || d.ID != "stock-eu" {
		t.Errorf("FindDestination(stock-eu) = %v, %v", d, ok)
	}
	if _, ok := domain.FindDestination(ds, "gone"); ok {
		t.Error("FindDestination(gone) found one")
	}
	for _, tt := range []struct {
		name string
		ref  domain.DeliveryRef
		want time.Duration
	}{
		{"coalescing", domain.DeliveryRef{Destination: "stock"}, 5 * time.Second},
		{"not coalescing", domain.DeliveryRef{Destination: "crm"}, 0},
		{"unknown", domain.DeliveryRef{Destination: "gone"}, 0},
	} {
		if got := domain.DeliveryDelay(ds, tt.ref); got != tt.want {
			t.Errorf("%s: DeliveryDelay = %s, want %s", tt.name, got, tt.want)
		}
	}
	var ids []string
	for _, d := range domain.DestinationsOfKind(ds, domain.DestinationShopifyInventory) {
		ids = append(ids, d.ID)
	}
	if diff := cmp.Diff([]string{"stock", "stock-eu"}, ids); diff != "" {
		t.Errorf("DestinationsOfKind (-want +got):\n%s", diff)
	}
}

type plainSender struct{}

func (plainSender) Send(context.Context, domain.Destination, domain.Outbound, time.Time) domain.SendResult {
	return domain.SendResult{}
}

func TestStockChannelsAreTheSendersThatReadStores(t *testing.T) {
	channels := domain.StockChannels(func(kind string) (domain.Sender, bool) {
		if kind == domain.DestinationWebhook {
			return plainSender{}, true
		}
		return nil, false
	})
	if _, ok := channels(domain.DestinationWebhook); ok {
		t.Error("a sender that reads no store is a stock channel")
	}
	if _, ok := channels("unknown"); ok {
		t.Error("an unknown kind has a stock channel")
	}
}
