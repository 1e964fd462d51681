package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

// TestReserverLifecycle: a Reserver has the Start/Shutdown shape of the other
// long-lived components: it takes reservations only between Start and Shutdown,
// starts once, and after Shutdown starts no batch (its wait is final).
func TestReserverLifecycle(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := context.Background()
	setStock(t, &postgres.Inventory{DB: db}, "L-1", 5)
	res := postgres.NewReserver(postgres.ReserverParams{DB: db})
	req := domain.ReservationRequest{SKU: "L-1", Quantity: 1, TTL: time.Minute}

	if _, _, err := res.Reserve(ctx, req); domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Errorf("Reserve before Start = %v, want EUNAVAILABLE", err)
	}
	if err := res.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := res.Start(ctx); domain.ErrorCode(err) != domain.EINTERNAL {
		t.Errorf("second Start = %v, want EINTERNAL", err)
	}
	if _, _, err := res.Reserve(ctx, req); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	if err := res.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, _, err := res.Reserve(ctx, req); domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Errorf("Reserve after Shutdown = %v, want EUNAVAILABLE", err)
	}
	if err := res.Start(ctx); domain.ErrorCode(err) != domain.EINTERNAL {
		t.Errorf("Start after Shutdown = %v, want EINTERNAL", err)
	}
	var reserved int64
	if err := db.GetContext(ctx, &reserved, `SELECT reserved FROM inventory WHERE sku = 'L-1'`); err != nil {
		t.Fatal(err)
	}
	if reserved != 1 {
		t.Errorf("reserved = %d, want 1: only the reservation between Start and Shutdown", reserved)
	}
}
