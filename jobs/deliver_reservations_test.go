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

// Checkout reservations change what is available, so they reach the store like
// any other stock change: a reservation pushes the lower level, a burst of a
// thousand makes a handful of pushes (debounced), and a release pushes the level
// back up. The destination holds back its safety buffer.
func TestReservationsPushTheAvailableLevel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	store := shopifytest.New("shpat_test", map[string]int64{"HOT": 0})
	t.Cleanup(store.Close)
	dest := stockDestination(store.URL)
	dest.Stock = domain.StockPolicy{SafetyBuffer: 2}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reserver := postgres.NewReserver(postgres.ReserverParams{DB: e.db, Logger: logger, Destinations: []domain.Destination{dest}})
	if err := reserver.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reserver.Shutdown(context.Background()) })
	inv := &postgres.Inventory{DB: e.db}
	if _, err := inv.SetOnHand(context.Background(), "HOT", 1500, time.Now(), domain.StockManualSet); err != nil {
		t.Fatal(err)
	}
	deliveries := &postgres.Deliveries{DB: e.db}
	sweeper := &jobs.SweepDeliveries{Outbox: deliveries, Queue: e.client, Tasks: e.inspector, Now: time.Now, Logger: logger,
		Delay: func(domain.DeliveryRef) time.Duration { return dest.Debounce }}
	pusher := &shopify.InventoryPusher{Stock: inv, Published: &postgres.PublishedStock{DB: e.db}}
	e.serveDeliveries(&jobs.Deliver{Deliveries: deliveries, Destinations: &postgres.Destinations{DB: e.db}, Logger: logger,
		Destination: func(string) (domain.Destination, bool) { return dest, true },
		Sender:      func(string) (domain.Sender, bool) { return pusher, true }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go sweeper.Run(ctx, 50*time.Millisecond)

	settled := func(level int64) func() (bool, string) {
		return func() (bool, string) {
			l, _ := deliveries.List(context.Background(), domain.DeliveryFilter{Destination: "shop-stock"})
			return store.Level("HOT") == level && len(l) == 1 && l[0].Status == domain.DeliveryDelivered,
				fmt.Sprintf("the store at %d (now %d), its one push delivered (%+v)", level, store.Level("HOT"), l)
		}
	}
	first, _, err := reserver.Reserve(ctx, domain.ReservationRequest{SKU: "HOT", Quantity: 10, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, settled(1500-10-2))

	before, _ := store.Mutations()
	const burst = 1000
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := reserver.Reserve(ctx, domain.ReservationRequest{SKU: "HOT", Quantity: 1, TTL: time.Hour,
				IdempotencyKey: fmt.Sprintf("checkout-%d", i)}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, settled(1500-10-burst-2))
	after, _ := store.Mutations()
	t.Logf("%d reservations made %d pushes", burst, after-before)
	if after-before > 15 {
		t.Errorf("%d pushes for %d reservations of one SKU; want a handful (debounced)", after-before, burst)
	}

	if _, err := reserver.Release(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, settled(1500-burst-2))
}
