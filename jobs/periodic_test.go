package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tradewind/tradewind/internal/testenv"
)

type countingHandler struct {
	runs atomic.Int64
	err  error
}

func (h *countingHandler) ProcessTask(context.Context, *asynq.Task) error {
	h.runs.Add(1)
	return h.err
}

// TestPeriodicRunsOncePerWindow: two workers (two Periodic wrappers on one Redis)
// each get the copies two schedulers queued in the same window; the task runs once
// in that window and once in the next.
func TestPeriodicRunsOncePerWindow(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	h := &countingHandler{}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	workers := []*Periodic{
		{Type: TypeSweepInbox, Interval: 15 * time.Second, Redis: rdb, Handler: h, Now: clock, Logger: logger},
		{Type: TypeSweepInbox, Interval: 15 * time.Second, Redis: rdb, Handler: h, Now: clock, Logger: logger},
	}
	tests := []struct {
		name     string
		advance  time.Duration
		wantRuns int64
	}{
		{name: "first window: four copies, one run", advance: 0, wantRuns: 1},
		{name: "later in the same window: no run", advance: 14 * time.Second, wantRuns: 1},
		{name: "next window: one more run", advance: time.Second, wantRuns: 2},
	}
	for _, tt := range tests {
		now = now.Add(tt.advance)
		for range 2 {
			for _, w := range workers {
				if err := w.ProcessTask(context.Background(), NewSweepInboxTask()); err != nil {
					t.Fatalf("%s: ProcessTask = %v, want nil", tt.name, err)
				}
			}
		}
		if got := h.runs.Load(); got != tt.wantRuns {
			t.Errorf("%s: runs = %d, want %d", tt.name, got, tt.wantRuns)
		}
	}
}

// TestPeriodicFailureIsNotRetried: a failed run completes the task (nil), so Asynq
// neither retries nor archives it, and its fixed task id is free for the next window.
func TestPeriodicFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	h := &countingHandler{err: errors.New("PostgreSQL is unavailable")}
	p := &Periodic{Type: TypeExpireReservations, Interval: time.Second, Handler: h, Now: time.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := p.ProcessTask(context.Background(), NewExpireReservationsTask()); err != nil {
		t.Errorf("ProcessTask = %v, want nil: a periodic task is retried by the next window", err)
	}
	if h.runs.Load() != 1 {
		t.Errorf("runs = %d, want 1", h.runs.Load())
	}
}
