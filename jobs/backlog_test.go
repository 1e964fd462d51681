package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/internal/testenv"
	"github.com/tradewind/tradewind/jobs"
)

// TestBacklogCountsPendingAndRetrying: the backlog of a queue is its pending tasks
// and those waiting out a retry delay; a task scheduled for later on purpose, or
// archived after its last attempt, is not work the workers are behind on.
func TestBacklogCountsPendingAndRetrying(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	opt, err := asynq.ParseRedisURI(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	client, inspector := asynq.NewClient(opt), asynq.NewInspector(opt)
	t.Cleanup(func() { client.Close(); inspector.Close() })
	enqueue := func(queue string, opts ...asynq.Option) string {
		t.Helper()
		info, err := client.Enqueue(asynq.NewTask("test:task", nil), append(opts, asynq.Queue(queue))...)
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}

	// A worker fails two tasks on critical: one is left retrying in an hour, the
	// other, out of retries, archived.
	retrying, archived := enqueue(jobs.QueueCritical, asynq.MaxRetry(5)), enqueue(jobs.QueueCritical, asynq.MaxRetry(0))
	worker := asynq.NewServer(opt, asynq.Config{
		Concurrency: 1, Queues: jobs.Weights, LogLevel: asynq.FatalLevel, Logger: jobs.Logger{L: slog.New(slog.DiscardHandler)},
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
	})
	if err := worker.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return errors.New("failed") })); err != nil {
		t.Fatal(err)
	}
	state := func(id string) asynq.TaskState {
		info, err := inspector.GetTaskInfo(jobs.QueueCritical, id)
		if err != nil {
			return 0
		}
		return info.State
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		return state(retrying) == asynq.TaskStateRetry && state(archived) == asynq.TaskStateArchived,
			fmt.Sprintf("one task retrying (%v), one archived (%v)", state(retrying), state(archived))
	})
	worker.Shutdown()

	enqueue(jobs.QueueCritical)
	enqueue(jobs.QueueCritical)
	enqueue(jobs.QueueCritical, asynq.ProcessIn(time.Hour))
	enqueue(jobs.QueueDefault)
	enqueue(jobs.QueueDefault, asynq.ProcessIn(time.Hour))

	ctx := context.Background()
	got, err := jobs.Backlog(ctx, inspector)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{jobs.QueueCritical: 3, jobs.QueueDefault: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Backlog (-want +got):\n%s", diff)
	}
	// What load shedding and the dashboard read is the same definition, summed.
	total, err := jobs.NewWebhookQueue(jobs.WebhookQueueParams{Client: client, Tasks: inspector}).Backlog(ctx)
	if err != nil || total != 4 {
		t.Errorf("WebhookQueue.Backlog = %d, %v; want 4", total, err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := jobs.Backlog(cancelled, inspector); !errors.Is(err, context.Canceled) {
		t.Errorf("Backlog with a cancelled context = %v, want %v", err, context.Canceled)
	}
}

// TestBacklogOfNoQueues: before anything was ever queued, the backlog is empty, not an error.
func TestBacklogOfNoQueues(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	opt, err := asynq.ParseRedisURI(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	inspector := asynq.NewInspector(opt)
	t.Cleanup(func() { inspector.Close() })
	got, err := jobs.Backlog(context.Background(), inspector)
	if err != nil || len(got) != 0 {
		t.Errorf("Backlog = %v, %v; want empty", got, err)
	}
}
