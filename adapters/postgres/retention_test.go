package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
)

// seedRetention stores, for sources a and b, old and recent inbox rows in every
// status with their applied events and rejections, old rejections of an unknown
// source, old and recent ledger rows for two SKUs (counters equal to their sums) and
// old finished and active reservations.
func seedRetention(t *testing.T, db *sqlx.DB, now time.Time) {
	t.Helper()
	old, recent := now.Add(-40*24*time.Hour), now.Add(-time.Hour)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, src := range []string{"a", "b"} {
		for i, status := range []string{"applied", "ignored", "failed", "rejected", "received", "applied", "applied"} {
			at := old
			if i >= 5 {
				at = recent
			}
			id := fmt.Sprintf("%s-%d", src, i)
			exec(`INSERT INTO inbox (source, provider, event_id, event_type, body, received_at, status) VALUES ($1, 'stripe', $2, 't', '\x7b7d', $3, $4)`,
				src, id, at, status)
			if status == "applied" {
				exec(`INSERT INTO applied_events (source, event_id, inbox_id, event_type, applied_at, event)
					SELECT source, event_id, id, 't', $3, '{}' FROM inbox WHERE source = $1 AND event_id = $2`, src, id, at)
			}
			if status == "rejected" {
				exec(`INSERT INTO rejections (source, cause, received_at, inbox_id) SELECT source, 'not_confirmed', $3, id FROM inbox WHERE source = $1 AND event_id = $2`, src, id, at)
			}
		}
		exec(`INSERT INTO rejections (source, cause, received_at) VALUES ($1, 'verification_failed', $2), ($1, 'verification_failed', $3)`, src, old, recent)
		exec(`INSERT INTO applied_events (source, event_id, event_type, applied_at, event) VALUES ($1, $1 || '-reconciled-old', 't', $2, '{}'), ($1, $1 || '-reconciled-new', 't', $3, '{}')`, src, old, recent)
	}
	exec(`INSERT INTO rejections (source, cause, received_at) VALUES ('no-such-source', 'unknown_source', $1), ('no-such-source', 'unknown_source', $2)`, old, recent)
	for _, sku := range []string{"S-1", "S-2"} {
		for i, d := range []struct{ onHand, reserved int64 }{{100, 0}, {0, 3}, {-2, -2}, {0, 1}, {-1, -1}, {5, 0}} {
			at := old
			if i >= 4 {
				at = recent
			}
			exec(`INSERT INTO stock_ledger (sku, cause, delta_on_hand, delta_reserved, nominal_on_hand, occurred_at, created_at) VALUES ($1, 'order', $2, $3, $2, $4, $4)`,
				sku, d.onHand, d.reserved, at)
		}
		exec(`INSERT INTO inventory (sku, on_hand, reserved) SELECT sku, SUM(delta_on_hand), SUM(delta_reserved) FROM stock_ledger WHERE sku = $1 GROUP BY sku`, sku)
	}
	exec(`INSERT INTO reservations (id, sku, quantity, state, expires_at, updated_at) VALUES
		('r-old-released', 'S-1', 1, 'released', $1, $1), ('r-old-expired', 'S-1', 1, 'expired', $1, $1),
		('r-old-active', 'S-1', 1, 'active', $1, $1), ('r-new-released', 'S-1', 1, 'released', $2, $2)`, old, recent)
}

func strs(t *testing.T, db *sqlx.DB, q string) []string {
	t.Helper()
	var out []string
	if err := db.Select(&out, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// TestRetentionPrunesOldFinishedRowsAndKeepsTheLedgerExact: with batches of 2 rows
// (so every loop runs several times), source a at 30 days, source b at 60 days and the
// default at 30 days: old finished inbox rows go with their applied events and
// rejections, rows still being applied stay, recent rows stay, an unknown source's
// old rejections go, old ledger rows fold into one carried row per SKU that keeps the
// ledger summing to the counters, and old finished reservations go. A second run
// changes nothing more.
func TestRetentionPrunesOldFinishedRowsAndKeepsTheLedgerExact(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := context.Background()
	now := time.Now()
	seedRetention(t, db, now)
	r := &postgres.Retention{DB: db, Batch: 2}
	month := 30 * 24 * time.Hour

	for run := range 2 {
		if _, err := r.PruneWebhooks(ctx, []string{"a"}, false, now.Add(-month)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.PruneWebhooks(ctx, []string{"b"}, false, now.Add(-2*month)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.PruneWebhooks(ctx, []string{"a", "b"}, true, now.Add(-month)); err != nil {
			t.Fatal(err)
		}
		counts, err := r.PruneStock(ctx, now.Add(-month))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int64{0: 8, 1: 0}[run]; counts["ledger_folded"] != want {
			t.Errorf("run %d: ledger rows folded = %d, want %d", run, counts["ledger_folded"], want)
		}

		checks := []struct {
			name, query string
			want        []string
		}{
			{"inbox", `SELECT event_id || ' ' || status FROM inbox ORDER BY source, event_id`,
				[]string{"a-4 received", "a-5 applied", "a-6 applied",
					"b-0 applied", "b-1 ignored", "b-2 failed", "b-3 rejected", "b-4 received", "b-5 applied", "b-6 applied"}},
			{"applied events", `SELECT event_id FROM applied_events ORDER BY source, event_id`,
				[]string{"a-5", "a-6", "a-reconciled-new", "b-0", "b-5", "b-6", "b-reconciled-new", "b-reconciled-old"}},
			{"rejections", `SELECT source || ' ' || cause FROM rejections ORDER BY source, id`,
				[]string{"a verification_failed", "b not_confirmed", "b verification_failed", "b verification_failed", "no-such-source unknown_source"}},
			{"ledger", `SELECT sku || ' ' || cause || ' ' || delta_on_hand || '/' || delta_reserved FROM stock_ledger ORDER BY sku, id`,
				[]string{"S-1 order -1/-1", "S-1 order 5/0", "S-1 carried 98/2", "S-2 order -1/-1", "S-2 order 5/0", "S-2 carried 98/2"}},
			{"ledger sums to the counters", `SELECT i.sku || ' ' || (i.on_hand = SUM(l.delta_on_hand) AND i.reserved = SUM(l.delta_reserved))
				FROM inventory i JOIN stock_ledger l USING (sku) GROUP BY i.sku, i.on_hand, i.reserved ORDER BY i.sku`,
				[]string{"S-1 true", "S-2 true"}},
			{"reservations", `SELECT id FROM reservations ORDER BY id`, []string{"r-new-released", "r-old-active"}},
		}
		for _, c := range checks {
			if diff := cmp.Diff(c.want, strs(t, db, c.query)); diff != "" {
				t.Errorf("run %d, %s (-want +got):\n%s", run, c.name, diff)
			}
		}
	}
}

// TestRetentionFoldKeepsTheLedgerExactUnderConcurrentWrites: ledger rows written
// while the fold runs are never lost or counted twice.
func TestRetentionFoldKeepsTheLedgerExactUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := context.Background()
	old := time.Now().Add(-40 * 24 * time.Hour)
	if _, err := db.Exec(`INSERT INTO stock_ledger (sku, cause, delta_on_hand, occurred_at, created_at)
		SELECT 'C-' || (g % 3), 'order', 1, $1, $1 FROM generate_series(1, 3000) g`, old); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := (&postgres.Retention{DB: db, Batch: 100}).PruneStock(ctx, time.Now().Add(-24*time.Hour))
		done <- err
	}()
	for i := range 300 {
		if _, err := db.Exec(`INSERT INTO stock_ledger (sku, cause, delta_on_hand, occurred_at) VALUES ($1, 'order', 1, now())`, fmt.Sprintf("C-%d", i%3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := strs(t, db, `SELECT sku || ' ' || SUM(delta_on_hand) || ' ' || count(*) FILTER (WHERE cause = 'order' AND created_at < now() - interval '1 day')
		FROM stock_ledger GROUP BY sku ORDER BY sku`)
	if diff := cmp.Diff([]string{"C-0 1100 0", "C-1 1100 0", "C-2 1100 0"}, got); diff != "" {
		t.Errorf("ledger per SKU: sum, old rows left (-want +got):\n%s", diff)
	}
}
