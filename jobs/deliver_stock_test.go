package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/shopify/shopifytest"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

// stockDestination is a shopify_inventory destination pushing to the fake store
// at url, debounced by a second (Asynq schedules to the second).
func stockDestination(url string) domain.Destination {
	return domain.Destination{ID: "shop-stock", Kind: domain.DestinationShopifyInventory, Timeout: 2 * time.Second,
		MaxAttempts: 12, MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second, BreakerFailures: 50, BreakerCooldown: time.Second,
		Debounce: time.Second,
		Events:   []domain.DownstreamType{domain.DownStockChanged},
		Settings: map[string]string{shopify.PushAPIBaseURL: url, shopify.PushAdminToken: "shpat_test", shopify.PushLocation: shopifytest.Location}}
}

// A thousand stock changes on one SKU in a burst make a handful of pushes: they
// fold into one pending push per SKU, which waits its debounce and publishes the
// level it reads when it runs; the store ends at the last level.
func TestStockChangesBurstMakesAFewPushes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	store := shopifytest.New("shpat_test", map[string]int64{"HOT": 0})
	t.Cleanup(store.Close)
	dest := stockDestination(store.URL)
	ledger := &postgres.Ledger{DB: e.db, Destinations: []domain.Destination{dest}}
	deliveries := &postgres.Deliveries{DB: e.db}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sweeper := &jobs.SweepDeliveries{Outbox: deliveries, Queue: e.client, Tasks: e.inspector, Now: time.Now, Logger: logger,
		Delay: func(domain.DeliveryRef) time.Duration { return dest.Debounce }}
	pusher := &shopify.InventoryPusher{Stock: &postgres.Inventory{DB: e.db}, Published: &postgres.PublishedStock{DB: e.db}}
	e.serveDeliveries(&jobs.Deliver{Deliveries: deliveries, Destinations: &postgres.Destinations{DB: e.db}, Logger: logger,
		Destination: func(string) (domain.Destination, bool) { return dest, true },
		Sender:      func(string) (domain.Sender, bool) { return pusher, true }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go sweeper.Run(ctx, 50*time.Millisecond)

	const changes, workers = 1000, 3 // the pool has 8 connections; an apply may take two (it prepares statements)
	ids := e.insert("test", changes, time.Now())
	t0 := time.Now().Add(-time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < changes; i += workers {
				ev := domain.Event{Type: domain.InventoryLevelSet, Provider: "test", Source: "test", EventID: fmt.Sprintf("lvl-%d", i),
					OccurredAt: t0.Add(time.Duration(i) * time.Millisecond), Stock: &domain.StockLevel{SKU: "HOT", OnHand: int64(1000 + i)}}
				if err := applyRetrying(ledger, ids[i], ev); err != nil {
					errs <- err
					return
				}
				sweeper.Kick()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, func() (bool, string) {
		l, _ := deliveries.List(context.Background(), domain.DeliveryFilter{Destination: "shop-stock"})
		return store.Level("HOT") == 1999 && len(l) == 1 && l[0].Status == domain.DeliveryDelivered,
			fmt.Sprintf("the store at the last level 1999 (now %d), its push delivered", store.Level("HOT"))
	})
	applied, _ := store.Mutations()
	t.Logf("%d stock changes made %d pushes", changes, applied)
	if applied > 15 {
		t.Errorf("%d pushes for %d changes of one SKU; want a handful (debounced)", applied, changes)
	}
	var pub []domain.PublishedStock
	pub, err := (&postgres.PublishedStock{DB: e.db}).List(context.Background(), "shop-stock", 10)
	if err != nil || len(pub) != 1 || pub[0].Published != 1999 {
		t.Errorf("published %+v %v; want HOT at 1999", pub, err)
	}
}

// applyRetrying applies one event, again after a deadlock or serialization
// failure (concurrent levels on one SKU).
func applyRetrying(l *postgres.Ledger, entry int64, ev domain.Event) error {
	var err error
	for range 10 {
		if err = l.ApplyEntry(context.Background(), entry, []domain.Event{ev}); err == nil {
			return nil
		}
	}
	return err
}
