package postgres_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/postgres"
)

// TestConflictStateMigrationConvertsExistingRows: migration 00006 turns the
// conflict state written as text into data, on a database with rows in it.
func TestConflictStateMigrationConvertsExistingRows(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := t.Context()
	mg, err := postgres.Migrator(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mg.DownTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	db.MustExecContext(ctx, `
		INSERT INTO conflicts (kind, order_ref, sku, state, rule, note) VALUES
			('paid_after_cancelled', 'M1', '', 'open', '', ''),
			('refund_exceeds_capture', 'M2', '', 'resolved', 'counted as refunded in full; check the gateway for the missing capture', ''),
			('amount_mismatch', 'M3', '', 'resolved', 'condition cleared by evt_1', ''),
			('dispute', 'M4', '', 'resolved', 'resolved by a person', 'answered in Stripe'),
			('stale_stock_level', '', 'S1', 'resolved', 'ignored: older than the level already applied', '')`)
	db.MustExecContext(ctx, `
		INSERT INTO inventory (sku, on_hand, set_level, set_at, set_event) VALUES
			('S1', 5, 5, now(), 'manual_set:S1:1'), ('S2', 5, 5, now(), 'shop:evt_9')`)
	if _, err := mg.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		OrderRef   string `db:"order_ref"`
		State      string `db:"state"`
		ResolvedBy string `db:"resolved_by"`
		Held       bool   `db:"held"`
	}
	if err := db.SelectContext(ctx, &got, `SELECT order_ref, state, resolved_by, held_since = created_at AS held FROM conflicts ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	type row = struct {
		OrderRef   string `db:"order_ref"`
		State      string `db:"state"`
		ResolvedBy string `db:"resolved_by"`
		Held       bool   `db:"held"`
	}
	want := []row{{"M1", "open", "", true}, {"M2", "resolved", "rule", true}, {"M3", "cleared", "", true},
		{"M4", "resolved", "person", true}, {"", "resolved", "rule", true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("conflicts after the migration (-want +got):\n%s", diff)
	}
	var own []bool
	if err := db.SelectContext(ctx, &own, `SELECT set_own FROM inventory ORDER BY sku`); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bool{true, false}, own); diff != "" {
		t.Errorf("set_own (-want +got):\n%s", diff)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO conflicts (kind, order_ref, state) VALUES ('x', 'M9', 'bogus')`); err == nil {
		t.Error("an unknown conflict state was accepted")
	}
}
