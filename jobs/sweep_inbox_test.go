package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/jobs"
)

func (e *env) sweeper(batch int) *jobs.SweepInbox {
	return &jobs.SweepInbox{Inbox: e.inbox, Queue: e.client, Tasks: e.inspector, Batch: batch,
		Now: time.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// The stall seen from outside: the oldest 1,500 unapplied entries all have a task
// waiting to retry, and the sweeper took the oldest 1,000 again and again while
// newer acknowledged webhooks, never queued, waited.
func TestSweepPagesPastARetryBacklogToFreshEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	old := time.Now().Add(-time.Hour)
	backlog := append(e.insert("stripe", 750, old), e.insert("shopify", 750, old)...)
	for i, id := range backlog {
		provider := "stripe"
		if i >= 750 {
			provider = "shopify"
		}
		// Waiting to be tried again, as a retrying task does.
		if _, err := e.client.Enqueue(jobs.NewProcessWebhookTask(id, jobs.QueueFor(provider)), asynq.ProcessIn(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	fresh := e.insert("stripe", 10, time.Now().Add(-time.Minute)) // acknowledged, never queued (Redis was down)

	got, err := e.sweeper(1000).Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jobs.SweepResult{Enqueued: 10, AlreadyQueued: 1500, Scanned: 1510}, got); diff != "" {
		t.Errorf("sweep (-want +got):\n%s", diff)
	}
	for _, id := range fresh {
		if s := e.taskState(jobs.QueueCritical, id); s != "pending" {
			t.Errorf("fresh entry %d: task %s on critical, want pending after one sweep", id, s)
		}
	}
}

func TestSweepNeverQueuesAnEntryOnASecondQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	at := time.Now().Add(-time.Hour)
	payment := e.insert("stripe", 1, at)[0]
	order := e.insert("shopify", 1, at)[0]
	// The payment's task is retrying on the critical queue.
	if _, err := e.client.Enqueue(jobs.NewProcessWebhookTask(payment, jobs.QueueCritical), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}

	got, err := e.sweeper(1000).Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jobs.SweepResult{Enqueued: 1, AlreadyQueued: 1, Scanned: 2}, got); diff != "" {
		t.Errorf("sweep (-want +got):\n%s", diff)
	}
	want := map[string]string{"payment on critical": "scheduled", "payment on default": "none", "order on default": "pending", "order on critical": "none"}
	gotStates := map[string]string{
		"payment on critical": e.taskState(jobs.QueueCritical, payment), "payment on default": e.taskState(jobs.QueueDefault, payment),
		"order on default": e.taskState(jobs.QueueDefault, order), "order on critical": e.taskState(jobs.QueueCritical, order),
	}
	if diff := cmp.Diff(want, gotStates); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
}

func TestSweepResumesWhereItStoppedAndQueuesEachEntryOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := e.insert("shopify", 12, time.Now().Add(-time.Hour))
	young := e.insert("shopify", 1, time.Now().Add(time.Hour))[0] // within the grace: the ingress's
	s := e.sweeper(5)

	var got []jobs.SweepResult
	for range 3 {
		r, err := s.Sweep(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []jobs.SweepResult{
		{Enqueued: 5, Scanned: 5},
		{Enqueued: 5, Scanned: 5},
		// The last 2, then round again from the oldest up to where it began.
		{Enqueued: 2, AlreadyQueued: 10, Scanned: 12},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sweeps (-want +got):\n%s", diff)
	}
	for _, id := range ids {
		if st := e.taskState(jobs.QueueDefault, id); st != "pending" {
			t.Errorf("entry %d: task %s, want pending", id, st)
		}
	}
	if st := e.taskState(jobs.QueueDefault, young); st != "none" {
		t.Errorf("entry within the grace: task %s, want none", st)
	}
}

// A task archived after a permanent failure keeps its id in Redis. A replayed
// entry (received again) must be queued anew, not skipped as "already queued".
func TestEnqueueEntryReplacesAnArchivedTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.insert("stripe", 1, time.Now().Add(-time.Hour))[0]
	if _, err := e.client.Enqueue(jobs.NewProcessWebhookTask(id, jobs.QueueCritical), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.inspector.ArchiveTask(jobs.QueueCritical, jobs.ProcessWebhookTaskID(id)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		want      jobs.EnqueueResult
		wantState string
	}{
		{name: "archived task is replaced", want: jobs.Enqueued, wantState: "pending"},
		{name: "pending task is kept", want: jobs.AlreadyQueued, wantState: "pending"},
	}
	for _, tt := range tests {
		got, err := jobs.EnqueueEntry(context.Background(), e.client, e.inspector, id, "stripe")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: EnqueueEntry = %v, want %v", tt.name, got, tt.want)
		}
		if st := e.taskState(jobs.QueueCritical, id); st != tt.wantState {
			t.Errorf("%s: task %s, want %s", tt.name, st, tt.wantState)
		}
	}
}

func TestQueueFor(t *testing.T) {
	tests := []struct {
		name, provider, want string
	}{
		{name: "payment gateway", provider: "stripe", want: jobs.QueueCritical},
		{name: "unsigned gateway callback", provider: "powertranz", want: jobs.QueueCritical},
		{name: "storefront", provider: "shopify", want: jobs.QueueDefault},
		{name: "unknown provider", provider: "gone", want: jobs.QueueDefault},
	}
	for _, tt := range tests {
		if got := jobs.QueueFor(tt.provider); got != tt.want {
			t.Errorf("%s: QueueFor(%q) = %q, want %q", tt.name, tt.provider, got, tt.want)
		}
	}
}
