package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/domain"
)

func TestInboxCountByStatusAndRejections(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, 4)
	ctx := context.Background()
	in := &postgres.Inbox{DB: db}
	now := time.Now().UTC().Truncate(time.Second)
	old := entry("s", "old")
	old.ReceivedAt = now.Add(-48 * time.Hour)
	res, err := in.Insert(ctx, []domain.InboxEntry{entry("s", "a"), entry("s", "b"), entry("s", "c"), old})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.MarkAttempt(ctx, res[0].ID, domain.InboxFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	got, err := in.CountByStatus(ctx, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{domain.InboxReceived: 2, domain.InboxFailed: 1}, got); diff != "" {
		t.Errorf("CountByStatus (-want +got):\n%s", diff)
	}

	for i, cause := range []string{domain.CauseVerificationFailed, domain.CauseUnparsable} {
		r := domain.Rejection{Source: "s", Cause: cause, Detail: "d", RemoteAddr: "10.0.0.1", ReceivedAt: now.Add(time.Duration(i) * time.Second)}
		if i == 1 {
			r.InboxID = res[1].ID
		}
		if err := in.Reject(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rej, err := in.Rejections(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Rejection{{ID: rej[0].ID, Source: "s", Cause: domain.CauseUnparsable, Detail: "d", RemoteAddr: "10.0.0.1",
		ReceivedAt: now.Add(time.Second), InboxID: res[1].ID}}
	if diff := cmp.Diff(want, rej); diff != "" {
		t.Errorf("Rejections, newest first (-want +got):\n%s", diff)
	}
}
