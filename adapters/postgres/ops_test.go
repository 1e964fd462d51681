package postgres_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

// Migration 00013 goes up on a database with rows, down, and up again; its
// indexes are valid (built CONCURRENTLY, outside a transaction).
func TestOpsMigrationUpDownUp(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := t.Context()
	mg, err := postgres.Migrator(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mg.DownTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	db.MustExecContext(ctx, `INSERT INTO inbox (source, provider, event_id, event_type, body, status) VALUES ('s', 'stripe', 'e1', 't', '{}', 'received')`)
	indexes := func() []string {
		var names []string
		if err := db.SelectContext(ctx, &names, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indisvalid AND c.relname IN ('inbox_by_order_ref', 'rejections_by_order_ref', 'orders_by_updated', 'inbox_by_event_id')
			ORDER BY 1`); err != nil {
			t.Fatal(err)
		}
		return names
	}
	all := []string{"inbox_by_event_id", "inbox_by_order_ref", "orders_by_updated", "rejections_by_order_ref"}
	for round := range 2 {
		if _, err := mg.Up(ctx); err != nil {
			t.Fatalf("round %d: up: %v", round, err)
		}
		if diff := cmp.Diff(all, indexes()); diff != "" {
			t.Errorf("round %d: valid indexes after up (-want +got):\n%s", round, diff)
		}
		if _, err := mg.DownTo(ctx, 12); err != nil { // later migrations first, then 00013
			t.Fatalf("round %d: down: %v", round, err)
		}
		if got := indexes(); len(got) != 0 {
			t.Errorf("round %d: indexes left after down: %v", round, got)
		}
	}
	if _, err := mg.Up(ctx); err != nil {
		t.Fatal(err)
	}
}

// A stored entry's body order ref is kept by Insert, and a later rejection of the
// entry (not confirmed) names the same order without being told.
func TestOrderRefsOfStoredAndRejectedEntries(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := t.Context()
	in := &postgres.Inbox{DB: db}
	res, err := in.Insert(ctx, []domain.InboxEntry{{Source: "s", Provider: "powertranz", EventID: "cb1", EventType: "callback",
		Body: []byte(`{}`), ReceivedAt: t0, Status: domain.InboxReceived, OrderRef: "7777"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Reject(ctx, domain.Rejection{Source: "s", Cause: domain.CauseNotConfirmed, ReceivedAt: t0, InboxID: res[0].ID}); err != nil {
		t.Fatal(err)
	}
	if err := in.Reject(ctx, domain.Rejection{Source: "s", Cause: domain.CauseVerificationFailed, ReceivedAt: t0, OrderRef: "7777"}); err != nil {
		t.Fatal(err)
	}
	ops := &postgres.Ops{DB: db}
	got, err := ops.OrderRequests(ctx, "7777", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Webhooks) != 1 || got.Webhooks[0].ID != res[0].ID || got.Webhooks[0].OrderRefVerified {
		t.Errorf("webhooks naming 7777 = %+v, want the stored entry, unverified", got.Webhooks)
	}
	if len(got.Rejections) != 1 || got.Rejections[0].Cause != domain.CauseVerificationFailed {
		t.Errorf("rejections naming 7777 = %+v, want only the refused request (the entry's own is shown by the entry)", got.Rejections)
	}
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM rejections WHERE order_ref = '7777'`); err != nil || n != 2 {
		t.Errorf("rejections with order_ref 7777 = %d (%v), want 2", n, err)
	}
}
