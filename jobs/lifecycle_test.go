package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/internal/testenv"
	"github.com/tradewind/tradewind/jobs"
)

// TestWorkerShutdownWaitsForActiveTasksWithinCtx: the worker's Shutdown waits
// for a running task, and no longer than its ctx allows; once the task ends,
// Asynq's own shutdown completes.
func TestWorkerShutdownWaitsForActiveTasksWithinCtx(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	opt, err := asynq.ParseRedisURI(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(opt)
	t.Cleanup(func() { client.Close() })

	running, release := make(chan struct{}), make(chan struct{})
	w := &jobs.Worker{
		Server: asynq.NewServer(opt, asynq.Config{Concurrency: 1, Queues: jobs.Weights, LogLevel: asynq.FatalLevel,
			Logger: jobs.Logger{L: slog.New(slog.DiscardHandler)}, ShutdownTimeout: time.Minute}),
		Handler: asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
			close(running)
			<-release
			return nil
		}),
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(asynq.NewTask("test:block", nil), asynq.Queue(jobs.QueueDefault)); err != nil {
		t.Fatal(err)
	}
	<-running

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Shutdown(ended); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with an ended ctx while a task runs = %v, want %v", err, context.Canceled)
	}
	close(release)
	if err := w.Shutdown(context.Background()); err != nil { // waits for the same shutdown to finish
		t.Errorf("Shutdown once the task ended = %v", err)
	}
}

// TestSchedulerStartsAndShutsDown: the scheduler has the same Start/Shutdown
// shape; a Start with an ended ctx starts nothing.
func TestSchedulerStartsAndShutsDown(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	opt, err := asynq.ParseRedisURI(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	opts := &asynq.SchedulerOpts{Logger: jobs.Logger{L: slog.New(slog.DiscardHandler)}, LogLevel: asynq.FatalLevel}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&jobs.Scheduler{Scheduler: asynq.NewScheduler(opt, opts)}).Start(ended); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with an ended ctx = %v, want %v", err, context.Canceled)
	}
	s := &jobs.Scheduler{Scheduler: asynq.NewScheduler(opt, opts)}
	if _, err := s.Scheduler.Register("@every 1h", jobs.NewSweepInboxTask()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}
