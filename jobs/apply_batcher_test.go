package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

// gatedApplier records the batches it is given; each batch waits for a token
// on release, and entries whose id is in bad fail.
type gatedApplier struct {
	release chan struct{}
	bad     map[int64]bool
	started chan []int64

	mu      sync.Mutex
	batches [][]int64
}

func (a *gatedApplier) ApplyEntries(_ context.Context, entries []domain.EntryEvents) []error {
	ids := make([]int64, len(entries))
	errs := make([]error, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
		if a.bad[e.ID] {
			errs[i] = fmt.Errorf("entry %d: bad input", e.ID)
		}
	}
	a.mu.Lock()
	a.batches = append(a.batches, ids)
	a.mu.Unlock()
	a.started <- ids
	<-a.release
	return errs
}

func TestApplyBatcherGroupsWaitingEntriesAndAnswersEachAlone(t *testing.T) {
	a := &gatedApplier{release: make(chan struct{}), bad: map[int64]bool{4: true}, started: make(chan []int64, 10)}
	b := &jobs.ApplyBatcher{Applier: a, MaxInFlight: 1, MaxBatch: 3}
	ctx := context.Background()

	results := make(map[int64]chan error)
	call := func(id int64) {
		results[id] = make(chan error, 1)
		go func() { results[id] <- b.ApplyEntry(ctx, id, nil) }()
	}
	call(1)
	if got := <-a.started; !slices.Equal(got, []int64{1}) {
		t.Fatalf("first batch %v, want [1]: a quiet worker applies at once", got)
	}
	// While the only lane is busy, four more wait; they leave in batches of at
	// most 3, in arrival order.
	for id := int64(2); id <= 5; id++ {
		call(id)
		waitQueued(t, b, int(id-1))
	}
	for range 2 {
		a.release <- struct{}{}
		if id := <-a.started; len(id) == 0 {
			t.Fatal("empty batch")
		}
	}
	a.release <- struct{}{}

	want := map[int64]bool{1: false, 2: false, 3: false, 4: true, 5: false}
	for id, failed := range want {
		select {
		case err := <-results[id]:
			if (err != nil) != failed {
				t.Errorf("entry %d: error %v, want failed = %v", id, err, failed)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("entry %d got no answer", id)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if diff := cmp.Diff([][]int64{{1}, {2, 3, 4}, {5}}, a.batches); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}

// waitQueued waits until n entries wait in b's queue.
func waitQueued(t *testing.T, b *jobs.ApplyBatcher, n int) {
	t.Helper()
	waitFor(t, func() (bool, string) {
		return b.Queued() == n, fmt.Sprintf("%d entries queued (%d now)", n, b.Queued())
	})
}

type panickyApplier struct{}

func (panickyApplier) ApplyEntries(context.Context, []domain.EntryEvents) []error { panic("boom") }

func TestApplyBatcherAnswersEveryEntryWhenTheBatchPanics(t *testing.T) {
	b := &jobs.ApplyBatcher{Applier: panickyApplier{}}
	err := b.ApplyEntry(context.Background(), 1, nil)
	if err == nil {
		t.Fatal("no error from a batch that panicked")
	}
}

func TestApplyBatcherCallerStopsWaitingWhenItsContextEnds(t *testing.T) {
	a := &gatedApplier{release: make(chan struct{}), started: make(chan []int64, 1)}
	b := &jobs.ApplyBatcher{Applier: a}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.ApplyEntry(ctx, 1, nil) }()
	<-a.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	close(a.release) // the batch still ends, and answers no one
}

// Two batch tasks' entries, handed over while the lane is busy, leave together:
// a task's own batch is only as large as its ingress batch was.
func TestApplyBatcherJoinsBatchTasksAndAnswersEachEntry(t *testing.T) {
	a := &gatedApplier{release: make(chan struct{}), bad: map[int64]bool{12: true}, started: make(chan []int64, 10)}
	b := &jobs.ApplyBatcher{Applier: a, MaxInFlight: 1, MaxBatch: 32}
	ctx := context.Background()
	entries := func(ids ...int64) []domain.EntryEvents {
		out := make([]domain.EntryEvents, len(ids))
		for i, id := range ids {
			out[i] = domain.EntryEvents{ID: id}
		}
		return out
	}
	results := make([]chan []error, 3)
	for i, batch := range [][]int64{{1, 2}, {11, 12, 13}, {21}} {
		results[i] = make(chan []error, 1)
		go func() { results[i] <- b.ApplyEntries(ctx, entries(batch...)) }()
		if i == 0 {
			<-a.started // the first task's entries take the lane at once
			continue
		}
		waitQueued(t, b, map[int]int{1: 3, 2: 4}[i])
	}
	a.release <- struct{}{}
	if got := <-a.started; !slices.Equal(got, []int64{11, 12, 13, 21}) {
		t.Errorf("second batch %v, want the two waiting tasks' entries together", got)
	}
	a.release <- struct{}{}
	for i, want := range [][]bool{{false, false}, {false, true, false}, {false}} {
		select {
		case errs := <-results[i]:
			for j, failed := range want {
				if (errs[j] != nil) != failed {
					t.Errorf("task %d entry %d: error %v, want failed = %v", i, j, errs[j], failed)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("task %d got no answer", i)
		}
	}
}
