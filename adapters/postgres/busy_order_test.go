package postgres_test

import (
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// TestLevelSettlesAnOrderBackorderedWhileItWaitedAndHeldByAnother is the race
// the concurrent test found once in CI: an order is backordered on a SKU while a
// stock level waits for that SKU, and when the level runs, another transaction
// holds the order (a duplicate of one of its events, which settles nothing). The
// level must not wait for the holder (the holder may be waiting for the SKU), and
// the order must still get the stock once the holder is done.
func TestLevelSettlesAnOrderBackorderedWhileItWaitedAndHeldByAnother(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	b := builder{ref: "BUSY", sku: "SKU-BUSY", t0: t0}
	apply(t, db, l, b.stock("zero", 0, 0))
	apply(t, db, l, b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 2, 100))
	if got := readState(t, db, b.ref, b.sku).Alloc; got != "backordered:2" {
		t.Fatalf("allocation = %q before the level, want backordered:2", got)
	}
	// The backorder is taken away and written again below, while the level waits
	// for the SKU: it is then one the level finds late, not one waiting before it.
	if _, err := db.Exec(`DELETE FROM allocations WHERE order_ref = $1`, b.ref); err != nil {
		t.Fatal(err)
	}

	skuHolder := holdRow(t, db, `SELECT 1 FROM inventory WHERE sku = $1 FOR UPDATE`, b.sku)
	done := make(chan error, 1)
	go func() { done <- tryApply(db, l, b.stock("restocked", 5, 10)) }()
	waitForLockWait(t, db)

	if _, err := skuHolder.Exec(`INSERT INTO allocations (order_ref, sku, quantity, state, updated_at) VALUES ($1, $2, 2, 'backordered', now())`,
		b.ref, b.sku); err != nil {
		t.Fatal(err)
	}
	orderHolder := holdRow(t, db, `SELECT 1 FROM orders WHERE ref = $1 FOR UPDATE`, b.ref)
	if err := skuHolder.Commit(); err != nil {
		t.Fatal(err)
	}
	// The level commits without waiting for the order's holder; then it waits for
	// the holder to settle the order (or, wrongly, has returned already).
	if err := waitForLockWaitOr(t, db, done); err != nil {
		t.Fatalf("apply the level: %v", err)
	}
	if err := orderHolder.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("apply the level: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the level's apply did not return after the order's holder committed")
	}
	if got := readState(t, db, b.ref, b.sku); got.Alloc != "reserved:2" || got.OnHand != 10 || got.Reserved != 2 {
		t.Errorf("after the level: allocation %q, on_hand %d, reserved %d; want reserved:2, 10 and 2", got.Alloc, got.OnHand, got.Reserved)
	}
	checkLedger(t, db)
}

// waitForLockWait waits until a session of db's database waits for a lock.
func waitForLockWait(t *testing.T, db *sqlx.DB) {
	t.Helper()
	_ = waitForLockWaitOr(t, db, nil)
}

// waitForLockWaitOr waits until a session of db's database waits for a lock, or
// done delivers (the value is put back and returned).
func waitForLockWaitOr(t *testing.T, db *sqlx.DB, done chan error) error {
	t.Helper()
	var finished error
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			finished = err
			return true, ""
		default:
		}
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		return waiting > 0, "a session waiting for a lock"
	})
	return finished
}

// holdRow begins a transaction that locks a row with lock (a SELECT … FOR
// UPDATE of arg) and holds it until the test commits it, or until the end.
func holdRow(t *testing.T, db *sqlx.DB, lock string, arg any) *sqlx.Tx {
	t.Helper()
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	if _, err := tx.Exec(lock, arg); err != nil {
		t.Fatal(err)
	}
	return tx
}
