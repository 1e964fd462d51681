package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setStock(t *testing.T, inv *postgres.Inventory, sku string, n int64) {
	t.Helper()
	if _, err := inv.SetOnHand(context.Background(), sku, n, time.Now(), domain.StockManualSet); err != nil {
		t.Fatal(err)
	}
}

func TestReservationIdempotencyReleaseAndExpiry(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	clk := &clock{t: time.Now()}
	res := postgres.NewReserver(postgres.ReserverParams{DB: db, Now: clk.now})
	if err := res.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	inv := &postgres.Inventory{DB: db, Now: clk.now}
	ctx := context.Background()
	setStock(t, inv, "R-1", 5)

	t.Run("a retry with the same key reserves once", func(t *testing.T) {
		req := domain.ReservationRequest{SKU: "R-1", Quantity: 2, TTL: time.Minute, IdempotencyKey: "checkout-1"}
		first, replayed, err := res.Reserve(ctx, req)
		if err != nil || replayed {
			t.Fatalf("first = %+v, %v, %v", first, replayed, err)
		}
		again, replayed, err := res.Reserve(ctx, req)
		if err != nil || !replayed || again.ID != first.ID {
			t.Fatalf("retry = %+v, replayed %v, %v; want the first reservation %s", again, replayed, err, first.ID)
		}
		req.Quantity = 3
		if _, _, err := res.Reserve(ctx, req); domain.ErrorReason(err) != "idempotency_mismatch" {
			t.Errorf("same key, other request = %v, want idempotency_mismatch", err)
		}
		if st, _ := inv.Stock(ctx, "R-1"); st.Reserved != 2 || st.Available != 3 {
			t.Errorf("stock = %+v, want 2 reserved", st)
		}
	})

	t.Run("insufficient stock says what is available", func(t *testing.T) {
		_, _, err := res.Reserve(ctx, domain.ReservationRequest{SKU: "R-1", Quantity: 4, TTL: time.Minute})
		if domain.ErrorReason(err) != "insufficient_stock" || domain.ErrorFields(err)["available"] != int64(3) {
			t.Fatalf("err = %v %v, want insufficient_stock with available 3", err, domain.ErrorFields(err))
		}
	})

	t.Run("release gives the units back, once", func(t *testing.T) {
		r, _, err := res.Reserve(ctx, domain.ReservationRequest{SKU: "R-1", Quantity: 1, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if got, err := res.Release(ctx, r.ID); err != nil || got.State != domain.ReservationReleased {
				t.Fatalf("Release = %+v, %v", got, err)
			}
		}
		if st, _ := inv.Stock(ctx, "R-1"); st.Available != 3 {
			t.Errorf("available = %d after release, want 3", st.Available)
		}
		if _, err := res.Release(ctx, "res_nope"); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("release unknown = %v, want ENOTFOUND", err)
		}
	})

	t.Run("an expired reservation stops counting and its stock sells again", func(t *testing.T) {
		if _, _, err := res.Reserve(ctx, domain.ReservationRequest{SKU: "R-1", Quantity: 3, TTL: 30 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if st, _ := inv.Stock(ctx, "R-1"); st.Available != 0 {
			t.Fatalf("available = %d, want 0", st.Available)
		}
		clk.t = clk.t.Add(31 * time.Second)
		if st, _ := inv.Stock(ctx, "R-1"); st.Available != 3 {
			t.Errorf("available right after expiry = %d, want 3 (not counted before any sweep)", st.Available)
		}
		if _, _, err := res.Reserve(ctx, domain.ReservationRequest{SKU: "R-1", Quantity: 3, TTL: time.Minute}); err != nil {
			t.Errorf("reserving the expired units again: %v", err)
		}
		clk.t = clk.t.Add(2 * time.Minute)
		n, err := res.Expire(ctx, clk.t, 100)
		if err != nil || n != 5 {
			t.Errorf("Expire = %d, %v; want the 2 + 3 units still held", n, err)
		}
		if st, _ := inv.Stock(ctx, "R-1"); st.Reserved != 0 || st.OnHand != 5 {
			t.Errorf("stock after the sweep = %+v, want 5 on hand, none reserved", st)
		}
	})
	checkLedger(t, db)
}

func TestCheckoutReservationIsCommittedByItsOrdersPayment(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	res := postgres.NewReserver(postgres.ReserverParams{DB: db})
	if err := res.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	inv := &postgres.Inventory{DB: db}
	l := &postgres.Ledger{DB: db}
	ctx := context.Background()
	setStock(t, inv, "R-2", 10)
	r, _, err := res.Reserve(ctx, domain.ReservationRequest{SKU: "R-2", Quantity: 2, OrderRef: "H1", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b := builder{ref: "H1", sku: "R-2", t0: time.Now()}
	apply(t, db, l, b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 2, 100))
	if st, _ := inv.Stock(ctx, "R-2"); st.Reserved != 2 {
		t.Fatalf("after the order: reserved %d, want 2 (the reservation taken over, not doubled)", st.Reserved)
	}
	apply(t, db, l, b.payment(domain.PaymentSucceeded, "paid", 2, 200))
	st, _ := inv.Stock(ctx, "R-2")
	if st.Reserved != 0 || st.OnHand != 8 {
		t.Fatalf("after payment: %+v, want 8 on hand and nothing reserved", st)
	}
	if _, err := res.Release(ctx, r.ID); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Errorf("releasing a reservation its order took over = %v, want ECONFLICT", err)
	}
	checkLedger(t, db)
}
