package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

// pushRow is what the tests read of a stock destination's delivery rows.
type pushRow struct {
	Destination string
	SKU         string
	Status      domain.DeliveryStatus
	Generation  int
}

func pushRows(t *testing.T, d *postgres.Deliveries) []pushRow {
	t.Helper()
	list, err := d.List(context.Background(), domain.DeliveryFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	out := []pushRow{}
	for _, o := range list {
		if o.Type != domain.DownStockChanged {
			t.Errorf("delivery %d is %s; want only stock.changed", o.ID, o.Type)
		}
		out = append(out, pushRow{Destination: o.Destination, SKU: o.SKU, Status: o.Status, Generation: o.Generation})
	}
	return out
}

// Reservations change what is available, so a grant, a release and an expiry
// each make the SKU's one pending push at every stock destination pending again,
// in the reservation's transaction: one row per destination and SKU, its
// generation counting the changes. A webhook destination is not told (its
// stock.changed is per change, too many for a flash sale).
func TestReservationsMakeTheSKUsStockPushPending(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	clk := &clock{t: time.Now()}
	dests := []domain.Destination{
		{ID: "shop-stock", Kind: domain.DestinationShopifyInventory, Events: []domain.DownstreamType{domain.DownStockChanged}},
		{ID: "crm", Kind: domain.DestinationWebhook, Events: []domain.DownstreamType{domain.DownStockChanged}},
	}
	res := postgres.NewReserver(postgres.ReserverParams{DB: db, Now: clk.now, Destinations: dests})
	if err := res.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	setStock(t, &postgres.Inventory{DB: db, Now: clk.now}, "P-1", 10) // no destinations: writes no delivery
	deliveries := &postgres.Deliveries{DB: db}
	if got := pushRows(t, deliveries); len(got) != 0 {
		t.Fatalf("before any reservation: %+v", got)
	}

	r, _, err := res.Reserve(ctx, domain.ReservationRequest{SKU: "P-1", Quantity: 2, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := []pushRow{{Destination: "shop-stock", SKU: "P-1", Status: domain.DeliveryPending}}
	if diff := cmp.Diff(want, pushRows(t, deliveries)); diff != "" {
		t.Fatalf("after a grant (-want +got):\n%s", diff)
	}
	if _, _, err := res.Reserve(ctx, domain.ReservationRequest{SKU: "P-1", Quantity: 50, TTL: time.Minute}); domain.ErrorReason(err) != "insufficient_stock" {
		t.Fatalf("refused reservation: %v", err)
	}
	if diff := cmp.Diff(want, pushRows(t, deliveries)); diff != "" {
		t.Errorf("a refused reservation changes nothing (-want +got):\n%s", diff)
	}

	if _, err := res.Release(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	want[0].Generation = 1
	if diff := cmp.Diff(want, pushRows(t, deliveries)); diff != "" {
		t.Errorf("after a release (-want +got):\n%s", diff)
	}
	if _, err := res.Release(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, pushRows(t, deliveries)); diff != "" {
		t.Errorf("releasing it again changes nothing (-want +got):\n%s", diff)
	}

	if _, _, err := res.Reserve(ctx, domain.ReservationRequest{SKU: "P-1", Quantity: 3, TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Minute)
	if n, err := res.Expire(ctx, clk.t, 100); err != nil || n != 3 {
		t.Fatalf("Expire = %d, %v; want 3 units", n, err)
	}
	want[0].Generation = 3 // the grant and the expiry
	if diff := cmp.Diff(want, pushRows(t, deliveries)); diff != "" {
		t.Errorf("after an expiry (-want +got):\n%s", diff)
	}
	if n, err := res.Expire(ctx, clk.t, 100); err != nil || n != 0 {
		t.Fatalf("Expire again = %d, %v", n, err)
	}
	if diff := cmp.Diff(want, pushRows(t, deliveries)); diff != "" {
		t.Errorf("an expiry with nothing due changes nothing (-want +got):\n%s", diff)
	}
	checkLedger(t, db)
}

// A flash sale on one SKU folds into its one push row; without a stock
// destination the reservation path writes no delivery at all.
func TestReservationBurstFoldsIntoOnePushRow(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		dests []domain.Destination
		want  []pushRow
	}{
		{"stock destination", []domain.Destination{{ID: "shop-stock", Kind: domain.DestinationShopifyInventory}},
			[]pushRow{{Destination: "shop-stock", SKU: "HOT", Status: domain.DeliveryPending}}},
		{"webhook only", []domain.Destination{{ID: "crm", Kind: domain.DestinationWebhook}}, []pushRow{}},
		{"none", nil, []pushRow{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openDB(t)
			res := postgres.NewReserver(postgres.ReserverParams{DB: db, Destinations: tt.dests})
			if err := res.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = res.Shutdown(context.Background()) })
			setStock(t, &postgres.Inventory{DB: db}, "HOT", 300)
			var wg sync.WaitGroup
			var mu sync.Mutex
			granted := 0
			for i := range 400 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _, err := res.Reserve(context.Background(), domain.ReservationRequest{SKU: "HOT", Quantity: 1, TTL: time.Minute,
						IdempotencyKey: fmt.Sprintf("k-%d", i)})
					if err == nil {
						mu.Lock()
						granted++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if granted != 300 {
				t.Fatalf("granted %d, want 300", granted)
			}
			got := pushRows(t, &postgres.Deliveries{DB: db})
			for i := range got {
				got[i].Generation = 0 // one per batch: depends on how requests fell into batches
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			checkLedger(t, db)
		})
	}
}
