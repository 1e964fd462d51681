package reconcile_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/shopify/shopifytest"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
	"github.com/tradewind/tradewind/jobs"
	"github.com/tradewind/tradewind/reconcile"
)

// stockEnv is a shopify_inventory destination whose store is a fake Admin
// GraphQL API on loopback, with the real outbox on PostgreSQL, the real
// dispatcher and delivery worker on Redis, and the reconciliation.
type stockEnv struct {
	t          *testing.T
	db         *sqlx.DB
	store      *shopifytest.Store
	dest       domain.Destination
	inventory  *postgres.Inventory
	deliveries *postgres.Deliveries
	rec        *reconcile.Reconciler
	slept      []time.Duration
}

var stockSKUs = []string{"SKU-A", "SKU-B", "SKU-C", "SKU-D", "SKU-E"}

func newStockEnv(t *testing.T) *stockEnv {
	t.Helper()
	e := &stockEnv{t: t, db: pgtest.Open(t, 8)}
	levels := map[string]int64{}
	for _, s := range stockSKUs {
		levels[s] = 0
	}
	e.store = shopifytest.New("shpat_stock", levels)
	t.Cleanup(e.store.Close)
	e.dest = domain.Destination{ID: "acme-shop-stock", Kind: domain.DestinationShopifyInventory, Timeout: 2 * time.Second,
		MaxAttempts: 12, MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second, BreakerFailures: 50, BreakerCooldown: time.Second,
		Debounce: time.Second, Events: []domain.DownstreamType{domain.DownStockChanged},
		Stock: domain.StockPolicy{SafetyBuffer: 2},
		Settings: map[string]string{shopify.PushAPIBaseURL: e.store.URL, shopify.PushAdminToken: "shpat_stock",
			shopify.PushLocation: shopifytest.Location}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.inventory = &postgres.Inventory{DB: e.db, Destinations: []domain.Destination{e.dest}}
	e.deliveries = &postgres.Deliveries{DB: e.db}

	r := testenv.StartRedis(t)
	opt, err := asynq.ParseRedisURI(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	client, inspector := asynq.NewClient(opt), asynq.NewInspector(opt)
	t.Cleanup(func() { client.Close(); inspector.Close() })
	// No debounce wait here: what is tested is which pushes are made, not when.
	sweeper := &jobs.SweepDeliveries{Outbox: e.deliveries, Queue: client, Tasks: inspector, Now: time.Now, Logger: logger}
	pusher := &shopify.InventoryPusher{Stock: &postgres.Inventory{DB: e.db}, Published: &postgres.PublishedStock{DB: e.db}}
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: 2, Queues: jobs.Weights, RetryDelayFunc: jobs.RetryDelay, IsFailure: jobs.IsFailure,
		Logger: jobs.Logger{L: logger}, TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 20 * time.Millisecond,
	})
	mux := asynq.NewServeMux()
	mux.Handle(jobs.TypeDeliver, &jobs.Deliver{Deliveries: e.deliveries, Destinations: &postgres.Destinations{DB: e.db}, Logger: logger,
		Destination: func(string) (domain.Destination, bool) { return e.dest, true },
		Sender:      func(string) (domain.Sender, bool) { return pusher, true }})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go sweeper.Run(ctx, 50*time.Millisecond)

	e.rec = reconcile.New(reconcile.Params{
		Store: &postgres.ReconcileStore{DB: e.db, Now: func() time.Time { return now }}, Reports: &postgres.Reconciliations{DB: e.db},
		Sources:           func() []domain.Source { return nil },
		Provider:          lookup,
		StockDestinations: func() []domain.Destination { return []domain.Destination{e.dest} },
		StockChannel: func(kind string) (domain.StockChannel, bool) {
			return pusher, kind == domain.DestinationShopifyInventory
		},
		Published:         &postgres.StorefrontStock{DB: e.db, PageSize: 3},
		DestinationStates: &postgres.Destinations{DB: e.db},
		StockBatch:        2,
		Kick:              sweeper.Kick,
		Sleep:             func(_ context.Context, d time.Duration) error { e.slept = append(e.slept, d); return nil },
		Now:               func() time.Time { return now },
		Logger:            logger,
	})
	return e
}

// publish sets each SKU's stock in Tradewind and waits until the pushes it
// makes have set the store to available − 2 and are delivered.
func (e *stockEnv) publish(onHand map[string]int64) {
	e.t.Helper()
	for sku, n := range onHand {
		if _, err := e.inventory.SetOnHand(context.Background(), sku, n, time.Now(), "test"); err != nil {
			e.t.Fatal(err)
		}
	}
	e.settled(func() map[string]int64 {
		want := map[string]int64{}
		for sku, n := range onHand {
			want[sku] = n - 2
		}
		return want
	}())
}

// settled waits until the store shows want and no push is open.
func (e *stockEnv) settled(want map[string]int64) {
	e.t.Helper()
	testenv.Eventually(e.t, 20*time.Second, func() (bool, string) {
		got := map[string]int64{}
		for sku := range want {
			got[sku] = e.store.Level(sku)
		}
		open := 0
		l, err := e.deliveries.List(context.Background(), domain.DeliveryFilter{Destination: e.dest.ID})
		if err != nil {
			return false, err.Error()
		}
		for _, d := range l {
			if d.Status != domain.DeliveryDelivered {
				open++
			}
		}
		return cmp.Equal(want, got) && open == 0, fmt.Sprintf("store levels (-want +got):\n%s\nand %d open pushes", cmp.Diff(want, got), open)
	})
}

func (e *stockEnv) run(dryRun bool) domain.Reconciliation {
	e.t.Helper()
	ctx := context.Background()
	rep, err := e.rec.Start(ctx, reconcile.Request{Since: now.Add(-24 * time.Hour), Until: now, DryRun: dryRun})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.rec.Run(ctx, rep.ID); err != nil {
		e.t.Fatal(err)
	}
	// As stored, and as GET /api/v1/reconciliations/{id} shows it.
	stored, err := (&postgres.Reconciliations{DB: e.db}).Get(ctx, rep.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if stored.Status != domain.ReconCompleted {
		e.t.Fatalf("run %d: %s %s; want completed", stored.ID, stored.Status, stored.Error)
	}
	return stored
}

func (e *stockEnv) levels() map[string]int64 {
	out := map[string]int64{}
	for _, s := range stockSKUs {
		out[s] = e.store.Level(s)
	}
	return out
}

func stockReport(compared, drift, repaired int, errs ...string) []domain.StorefrontStockReport {
	if errs == nil {
		errs = []string{}
	}
	return []domain.StorefrontStockReport{{Destination: "acme-shop-stock", Compared: compared, Drift: drift, Repaired: repaired, Errors: errs}}
}

// Levels changed in the store behind Tradewind's back are found and set back
// through the same push (a compare-and-set against what the store shows); a
// dry run before only reports them, and a second run finds nothing.
func TestStorefrontStockDriftRepairedThroughThePush(t *testing.T) {
	t.Parallel()
	e := newStockEnv(t)
	e.publish(map[string]int64{"SKU-A": 10, "SKU-B": 20, "SKU-C": 30, "SKU-D": 40, "SKU-E": 50})
	published := e.levels()
	applied, _ := e.store.Mutations()

	// A person in the Shopify admin, a POS sale Tradewind never heard of.
	e.store.SetLevel("SKU-B", 5)
	e.store.SetLevel("SKU-D", 100)
	drifted := e.levels()

	dry := e.run(true)
	if diff := cmp.Diff(stockReport(5, 2, 0), dry.StorefrontStock); diff != "" {
		t.Errorf("dry run report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(drifted, e.levels()); diff != "" {
		t.Errorf("a dry run changed the store (-want +got):\n%s", diff)
	}
	if l, _ := e.deliveries.List(context.Background(), domain.DeliveryFilter{Destination: e.dest.ID, Status: domain.DeliveryPending}); len(l) != 0 {
		t.Errorf("a dry run made %d pushes pending; want none", len(l))
	}

	rep := e.run(false)
	if diff := cmp.Diff(stockReport(5, 2, 2), rep.StorefrontStock); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	e.settled(published)
	after, _ := e.store.Mutations()
	if after-applied != 2 {
		t.Errorf("%d mutations to repair 2 drifted SKUs; want 2", after-applied)
	}

	again := e.run(false)
	if diff := cmp.Diff(stockReport(5, 0, 0), again.StorefrontStock); diff != "" {
		t.Errorf("second run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(published, e.levels()); diff != "" {
		t.Errorf("store after the second run (-want +got):\n%s", diff)
	}
}

// A read the store keeps throttling is reported for its batch, after waiting
// for the cost budget between tries; the other batches are compared and
// repaired.
func TestStorefrontStockThrottledReadIsReportedAndTheRunGoesOn(t *testing.T) {
	t.Parallel()
	e := newStockEnv(t)
	e.publish(map[string]int64{"SKU-A": 10, "SKU-B": 20, "SKU-C": 30, "SKU-D": 40, "SKU-E": 50})
	published := e.levels()
	e.store.SetLevel("SKU-A", 0) // in the throttled batch: not seen this run
	e.store.SetLevel("SKU-E", 1)

	e.store.Throttle(3) // every try at the first batch (SKU-A, SKU-B)
	rep := e.run(false)
	want := stockReport(3, 1, 1, "SKUs SKU-A … SKU-B: the store's levels could not be read after 3 tries: "+
		"Shopify throttled the call (cost budget spent) (retry in 1s)")
	if diff := cmp.Diff(want, rep.StorefrontStock); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if len(e.slept) != 2 {
		t.Errorf("waited %v between tries; want two waits for the cost budget", e.slept)
	}
	levels := map[string]int64{}
	for k, v := range published {
		levels[k] = v
	}
	levels["SKU-A"] = 0
	e.settled(levels)

	rep = e.run(false)
	if diff := cmp.Diff(stockReport(5, 1, 1), rep.StorefrontStock); diff != "" {
		t.Errorf("next run (-want +got):\n%s", diff)
	}
	e.settled(published)
}

// A destination disabled after a 410 is reported, not compared: its store
// answers nothing and its pushes wait for a person to enable it.
func TestStorefrontStockDisabledDestinationIsReported(t *testing.T) {
	t.Parallel()
	e := newStockEnv(t)
	e.publish(map[string]int64{"SKU-A": 10})
	e.store.SetLevel("SKU-A", 3)
	if err := (&postgres.Destinations{DB: e.db}).Disable(context.Background(), e.dest.ID, "the store answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	reads := e.store.Reads()
	rep := e.run(false)
	want := stockReport(0, 0, 0, "not compared: the destination is disabled (the store answered 410 Gone); "+
		"enable it with POST /api/v1/destinations/acme-shop-stock/enable")
	if diff := cmp.Diff(want, rep.StorefrontStock); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if e.store.Reads() != reads {
		t.Errorf("%d reads of a disabled destination's store; want none", e.store.Reads()-reads)
	}
}
