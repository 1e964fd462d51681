package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/internal/testenv"
	"github.com/tradewind/tradewind/jobs"
)

// TestNightlyRunIsQueuedOncePerWindow: two schedule replicas each tick for the
// night (twice, even, and once more after the run completed): one run is queued
// for the window, under the window's id, and it stays taken.
func TestNightlyRunIsQueuedOncePerWindow(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	opt := asynq.RedisClientOpt{Addr: r.Addr()}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	now := time.Date(2026, 11, 30, 2, 31, 5, 0, loc)
	var replicas []*jobs.ReconcileNightly
	for range 2 {
		c := asynq.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		replicas = append(replicas, &jobs.ReconcileNightly{Queue: c, At: "02:30", Location: loc,
			Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	for range 2 {
		for _, h := range replicas {
			if err := h.ProcessTask(context.Background(), jobs.NewReconcileNightlyTask()); err != nil {
				t.Fatal(err)
			}
		}
	}
	ins := asynq.NewInspector(opt)
	t.Cleanup(func() { ins.Close() })
	tasks, err := ins.ListPendingTasks(jobs.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ti := range tasks {
		ids = append(ids, ti.ID)
	}
	if diff := cmp.Diff([]string{"reconcile:nightly:2026-11-30"}, ids); diff != "" {
		t.Fatalf("queued runs (-want +got):\n%s", diff)
	}
	if tasks[0].Retention < 24*time.Hour {
		t.Errorf("retention %s; want the id kept taken past the night", tasks[0].Retention)
	}
}

func TestNightlyWindow(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	tests := []struct {
		name      string
		now       time.Time
		wantUntil time.Time
	}{
		{"just after the time", time.Date(2026, 3, 2, 2, 30, 0, 0, utc), time.Date(2026, 3, 2, 2, 30, 0, 0, utc)},
		{"before the time: last night", time.Date(2026, 3, 2, 1, 0, 0, 0, utc), time.Date(2026, 3, 1, 2, 30, 0, 0, utc)},
		{"late in the day", time.Date(2026, 3, 2, 23, 59, 0, 0, utc), time.Date(2026, 3, 2, 2, 30, 0, 0, utc)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			since, until, err := jobs.Window(tt.now, "02:30", utc)
			if err != nil {
				t.Fatal(err)
			}
			if !until.Equal(tt.wantUntil) || !since.Equal(tt.wantUntil.AddDate(0, 0, -1)) {
				t.Errorf("window %s – %s; want the 24 hours to %s", since, until, tt.wantUntil)
			}
		})
	}
}
