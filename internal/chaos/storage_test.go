package chaos

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestStorageFootprint measures what the tables take per webhook after a realistic
// load (a Shopify order and its Stripe payment, or the Standard Webhooks pair, each
// order one line of one SKU), and extrapolates to a million webhooks. It runs only
// with TRADEWIND_CHAOS_STORAGE=<orders> (e.g. 25000: 50,000 webhooks).
func TestStorageFootprint(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TRADEWIND_CHAOS_STORAGE"))
	if n <= 0 {
		t.Skip("set TRADEWIND_CHAOS_STORAGE=<orders> to measure the tables per million webhooks")
	}
	c := newCluster(t, clusterOpts{serves: 1, works: 1, scheds: 1})
	skus := []string{"STORE-1", "STORE-2", "STORE-3", "STORE-4"}
	for _, sku := range skus {
		c.setStock(sku, n) // enough for every order: each holds (and commits) one unit
	}
	l := newLoad(orderHooks("st", n, skus), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	l.run(ctx, c, 32)
	sources, ids := l.ackedKeys()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for c.unapplied(sources, ids) > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d webhooks not applied", c.unapplied(sources, ids))
		case <-tick.C:
		}
	}
	if _, err := c.db.Exec(`VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Name  string `db:"name"`
		Rows  int64  `db:"rows"`
		Total int64  `db:"total"`
		Heap  int64  `db:"heap"`
		Index int64  `db:"idx"`
	}
	if err := c.db.Select(&rows, `
		SELECT c.relname AS name, c.reltuples::bigint AS rows, pg_total_relation_size(c.oid) AS total,
		       pg_relation_size(c.oid) + COALESCE(pg_total_relation_size(c.reltoastrelid), 0) AS heap, pg_indexes_size(c.oid) AS idx
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_total_relation_size(c.oid) > 65536
		ORDER BY total DESC`); err != nil {
		t.Fatal(err)
	}
	webhooks := float64(len(ids))
	scale := 1e6 / webhooks
	out := fmt.Sprintf("%d webhooks (%d orders) stored and applied; per million webhooks (measured × %.1f):\n\n", len(ids), n, scale)
	out += "| table | rows per million webhooks | data + TOAST | indexes | total | bytes per webhook |\n|---|---:|---:|---:|---:|---:|\n"
	var sum int64
	for _, r := range rows {
		out += fmt.Sprintf("| %s | %.0f | %s | %s | %s | %.0f |\n", r.Name, float64(r.Rows)*scale,
			mib(float64(r.Heap)*scale), mib(float64(r.Index)*scale), mib(float64(r.Total)*scale), float64(r.Total)/webhooks)
		sum += r.Total
	}
	out += fmt.Sprintf("| all | | | | %s | %.0f |\n", mib(float64(sum)*scale), float64(sum)/webhooks)
	t.Log("\n" + out)
	if path := os.Getenv("TRADEWIND_CHAOS_STORAGE_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mib(b float64) string { return fmt.Sprintf("%.0f MiB", b/(1<<20)) }
