package postgres_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// Migration 00005 runs on a live inbox with rows in it (its index is built
// CONCURRENTLY, outside a transaction), and goes down and up again.
func TestMigration5OnAnInboxWithData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := postgres.Open(ctx, testenv.DatabaseURL(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mg, err := postgres.Migrator(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mg.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	in := &postgres.Inbox{DB: db}
	// Rows as the schema of version 4 holds them (today's Insert writes later columns).
	if _, err := db.ExecContext(ctx, `INSERT INTO inbox (source, provider, event_id, event_type, body, received_at, status)
		SELECT 's', 'stripe', 'evt_' || g, 't', '{}'::bytea, now() - interval '1 hour', 'received' FROM generate_series(0, 299) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := mg.Up(ctx); err != nil {
		t.Fatalf("up on a live inbox: %v", err)
	}
	indexes := func() []string {
		var names []string
		if err := db.Select(&names, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = 'inbox'::regclass AND i.indisvalid AND c.relname IN ('inbox_pending', 'inbox_received_by_id') ORDER BY 1`); err != nil {
			t.Fatal(err)
		}
		return names
	}
	if diff := cmp.Diff([]string{"inbox_received_by_id"}, indexes()); diff != "" {
		t.Errorf("valid indexes after up (-want +got):\n%s", diff)
	}
	page, err := in.Pending(ctx, time.Now(), 0, 1000)
	if err != nil || len(page) != 300 {
		t.Fatalf("Pending after up = %d entries, %v; want 300", len(page), err)
	}
	if _, err := mg.DownTo(ctx, 4); err != nil {
		t.Fatalf("down: %v", err)
	}
	if diff := cmp.Diff([]string{"inbox_pending"}, indexes()); diff != "" {
		t.Errorf("valid indexes after down (-want +got):\n%s", diff)
	}
	if _, err := mg.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

func TestInboxAttemptsAreCountedAtEachStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	in := &postgres.Inbox{DB: db}
	res, err := in.Insert(ctx, []domain.InboxEntry{{Source: "s", Provider: "stripe", EventID: "evt_1", EventType: "t",
		Header: http.Header{}, Body: []byte(`{}`), ReceivedAt: time.Now(), Status: domain.InboxReceived}})
	if err != nil {
		t.Fatal(err)
	}
	id := res[0].ID
	var got []int
	for range 2 {
		e, err := in.BeginAttempt(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Attempts)
	}
	if err := in.CancelAttempt(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := in.MarkAttempt(ctx, id, domain.InboxFailed, "bad input"); err != nil {
		t.Fatal(err)
	}
	e, err := in.BeginAttempt(ctx, id) // not received: returned as it is, not counted
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, e.Attempts)
	if diff := cmp.Diff([]int{1, 2, 1}, got); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if e.Status != domain.InboxFailed || e.LastError != "bad input" {
		t.Errorf("entry = %s %q, want failed with its reason", e.Status, e.LastError)
	}
	// A replay starts the count again: the maximum bounds one try, not the webhook's life.
	if e, err := in.Requeue(ctx, id); err != nil || e.Attempts != 0 || e.Status != domain.InboxReceived {
		t.Errorf("Requeue = %s with %d attempts, %v; want received with 0", e.Status, e.Attempts, err)
	}
	if _, err := in.BeginAttempt(ctx, id+1000); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("BeginAttempt of a missing entry = %v, want ENOTFOUND", err)
	}
}
