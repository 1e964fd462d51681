package jobs_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

// gatedAttempts is the real inbox whose BeginAttempts reports each batch of
// ids on started and then waits for a token on release.
type gatedAttempts struct {
	jobs.AttemptInbox
	started chan []int64
	release chan struct{}
}

func (g gatedAttempts) BeginAttempts(ctx context.Context, ids []int64) ([]domain.InboxEntry, error) {
	g.started <- slices.Clone(ids)
	<-g.release
	return g.AttemptInbox.BeginAttempts(ctx, ids)
}

func TestAttemptBatcherCountsConcurrentAttemptsInOneStatement(t *testing.T) {
	e := newEnv(t)
	ids := e.insert("stripe", 4, time.Now())
	if err := e.inbox.MarkAttempt(context.Background(), ids[3], domain.InboxFailed, "bad input"); err != nil {
		t.Fatal(err)
	}
	e.setAttempts(ids[3], 5)
	g := gatedAttempts{AttemptInbox: e.inbox, started: make(chan []int64, 10), release: make(chan struct{})}
	b := &jobs.AttemptBatcher{AttemptInbox: g, MaxInFlight: 1}

	type result struct {
		entry domain.InboxEntry
		err   error
	}
	results := map[int64]chan result{}
	begin := func(id int64) {
		results[id] = make(chan result, 1)
		go func() {
			entry, err := b.BeginAttempt(context.Background(), id)
			results[id] <- result{entry, err}
		}()
	}
	begin(ids[0])
	if got := <-g.started; !slices.Equal(got, ids[:1]) {
		t.Fatalf("first statement counts %v, want %v: a quiet worker counts at once", got, ids[:1])
	}
	// While the only lane is busy, the others wait and go in one statement:
	// two received entries, one failed already and an id with no entry.
	const missing = 1 << 40
	for _, id := range []int64{ids[1], ids[2], ids[3], missing} {
		begin(id)
	}
	waitFor(t, func() (bool, string) {
		q := b.Queued()
		return q == 4, fmt.Sprintf("%d attempts wait for a lane, want 4", q)
	})
	g.release <- struct{}{}
	got := <-g.started
	slices.Sort(got)
	if want := []int64{ids[1], ids[2], ids[3], missing}; !slices.Equal(got, want) {
		t.Fatalf("second statement counts %v, want %v", got, want)
	}
	g.release <- struct{}{}

	for _, id := range ids[:3] {
		r := <-results[id]
		if r.err != nil || r.entry.ID != id || r.entry.Status != domain.InboxReceived || r.entry.Attempts != 1 {
			t.Errorf("entry %d: got id %d, %s, attempts %d, err %v; want received with attempt 1", id, r.entry.ID, r.entry.Status, r.entry.Attempts, r.err)
		}
		if row := e.row(id); row.Attempts != 1 {
			t.Errorf("entry %d: %d attempts stored, want 1 (committed before the attempt starts)", id, row.Attempts)
		}
	}
	if r := <-results[ids[3]]; r.err != nil || r.entry.Status != domain.InboxFailed || r.entry.Attempts != 5 {
		t.Errorf("failed entry: got %s, attempts %d, err %v; want it as it is (failed, 5 attempts)", r.entry.Status, r.entry.Attempts, r.err)
	}
	if r := <-results[missing]; domain.ErrorCode(r.err) != domain.ENOTFOUND {
		t.Errorf("missing entry: err %v, want ENOTFOUND", r.err)
	}
}
