package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/domain"
)

var walkNow = time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)

// putHeld stores orders whose snapshot came from source's applied events, at at.
func putHeld(t *testing.T, db *sqlx.DB, source string, at time.Time, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		ev := source + ":" + ref
		if _, err := db.Exec(`INSERT INTO applied_events (source, event_id, event_type, order_ref, occurred_at, event) VALUES ($1, $2, 'order.updated', $3, $4, '{}')`,
			source, ev, ref, at); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO orders (ref, status, currency, total, version, snapshot_at, snapshot_event) VALUES ($1, 'placed', 'USD', 100, 1, $2, $3)`,
			ref, at, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStorefrontOrdersWalkInRefOrder: the walk lists a source's orders of the
// window in domain.RefOrder — length in bytes, then bytes, whatever the
// database's collation, non-ASCII refs included — across pages, once each.
func TestStorefrontOrdersWalkInRefOrder(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, 4)
	in := []string{"10", "9", "100", "Z1", "a1", "é", "ée", "e", "1000", "99", "B", "ab", "Ä"}
	putHeld(t, db, "shop", walkNow.Add(-time.Hour), in...)
	putHeld(t, db, "other", walkNow.Add(-time.Hour), "5", "55")
	putHeld(t, db, "shop", walkNow.Add(-48*time.Hour), "7", "77") // before the window
	for _, size := range []int{1, 2, 5, 1000} {
		t.Run(fmt.Sprintf("page %d", size), func(t *testing.T) {
			s := &postgres.ReconcileStore{DB: db, PageSize: size}
			var got []string
			for o, err := range s.StorefrontOrders(context.Background(), "shop", walkNow.Add(-24*time.Hour), walkNow) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, o.Ref)
			}
			want := slices.Clone(in)
			slices.SortFunc(want, domain.RefOrder)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("walk (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStorefrontOrdersPageUsesTheIndex: a page after a ref is a range read of
// orders_in_ref_order starting at that ref (an Index Cond), not a scan and
// sort of the window, nor a walk of the index that filters out every earlier
// ref.
func TestStorefrontOrdersPageUsesTheIndex(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, 4)
	var refs []string
	for i := range 2000 {
		refs = append(refs, fmt.Sprint(820982911946154000+int64(i)*7))
	}
	putHeld(t, db, "shop", walkNow.Add(-time.Hour), refs...)
	if _, err := db.Exec(`ANALYZE orders; ANALYZE applied_events`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// The planner's choice on a table this small is not the point: what the
	// index can do for the page is. Sorting is what the index saves.
	if _, err := tx.Exec(`SET LOCAL enable_sort = off; SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	var plan []byte
	after := refs[1000]
	if err := tx.Get(&plan, `EXPLAIN (FORMAT JSON) `+postgres.StorefrontOrdersPage, "shop", walkNow.Add(-24*time.Hour), walkNow, len(after), after, 1000); err != nil {
		t.Fatal(err)
	}
	var nodes []map[string]any
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		nodes = append(nodes, n)
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			walk(k.(map[string]any))
		}
	}
	var root []struct {
		Plan map[string]any `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &root); err != nil || len(root) != 1 {
		t.Fatalf("plan %s: %v", plan, err)
	}
	walk(root[0].Plan)
	for _, n := range nodes {
		if n["Index Name"] == "orders_in_ref_order" {
			cond, _ := n["Index Cond"].(string)
			if !strings.Contains(cond, "octet_length(ref)") || !strings.Contains(cond, after) {
				t.Errorf("orders_in_ref_order read with Index Cond %q; want the page to start at (octet_length(ref), ref) after %s", cond, after)
			}
			return
		}
	}
	t.Errorf("the page does not read orders_in_ref_order:\n%s", plan)
}
