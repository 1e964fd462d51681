package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

// One batch task applies its entries together, one attempt each; an entry that
// does not normalize goes on as its own task with its attempt given back, and one
// whose apply fails goes on as its own task keeping its attempt and error. Run
// again, the batch leaves its applied entries alone.
func TestProcessBatchAppliesTogetherAndHandsOffWhatFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	src := domain.Source{ID: "src-fake", Provider: "fake"}
	ids := e.insert("fake", 5, time.Now())
	var badNormalize, badApply string // the entries' event ids
	_ = e.db.Get(&badNormalize, `SELECT event_id FROM inbox WHERE id = $1`, ids[1])
	_ = e.db.Get(&badApply, `SELECT event_id FROM inbox WHERE id = $1`, ids[3])
	h := e.handler(fakeProvider{normalize: func(m domain.Message) ([]domain.Event, error) {
		if m.ID == badNormalize {
			return nil, domain.Errorf(domain.EINVALID, "no order in the message")
		}
		currency := "USD"
		if m.ID == badApply {
			currency = "US\x00D" // PostgreSQL refuses the NUL byte
		}
		return []domain.Event{{Type: domain.OrderPlaced, Provider: "fake", Source: src.ID, EventID: m.ID, OrderRef: "O-" + m.ID,
			Version: 1, OccurredAt: time.Now(), Order: &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: currency, Total: 100}}}, nil
	}}, src)
	batch := &jobs.ProcessBatch{Single: h, Attempts: e.inbox, Applier: &postgres.Ledger{DB: e.db}, Queue: e.client, Tasks: e.inspector}
	task := jobs.NewProcessBatchTask(ids, jobs.QueueDefault)

	if err := batch.ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	type got struct {
		Row  row
		Task string
	}
	want := map[int64]got{
		ids[0]: {row{Status: domain.InboxApplied, Attempts: 1}, "none"},
		ids[1]: {row{Status: domain.InboxReceived, Attempts: 0}, "pending"},
		ids[2]: {row{Status: domain.InboxApplied, Attempts: 1}, "none"},
		ids[3]: {row{Status: domain.InboxReceived, Attempts: 1, LastError: "apply inbox entry"}, "pending"},
		ids[4]: {row{Status: domain.InboxApplied, Attempts: 1}, "none"},
	}
	for _, id := range ids {
		r := e.row(id)
		if w := want[id].Row.LastError; w != "" && len(r.LastError) >= len(w) && r.LastError[:len(w)] == w {
			r.LastError = w
		}
		if diff := cmp.Diff(want[id], got{r, e.taskState(jobs.QueueDefault, id)}); diff != "" {
			t.Errorf("entry %d after the batch (-want +got):\n%s", id, diff)
		}
	}
	// Run again (Asynq retrying it), the batch leaves the applied entries alone.
	if err := batch.ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{ids[0], ids[2], ids[4]} {
		if diff := cmp.Diff(want[id].Row, e.row(id)); diff != "" {
			t.Errorf("applied entry %d after a second run (-want +got):\n%s", id, diff)
		}
	}
	// The entry handed over is decided by its own task, as ever.
	if err := run(h, ids[1]); err == nil {
		t.Errorf("the entry that does not normalize: its own task succeeded")
	}
	if r := e.row(ids[1]); r.Status != domain.InboxFailed || r.Attempts != 1 {
		t.Errorf("the entry that does not normalize, after its own task: %+v, want failed after 1 attempt", r)
	}
}

// The sweeper leaves alone the entries a live batch task holds, and queues them
// once that task is gone.
func TestSweepLeavesEntriesOfALiveBatchTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	ids := e.insert("shopify", 3, time.Now().Add(-time.Hour))
	if _, err := e.client.Enqueue(jobs.NewProcessBatchTask(ids, jobs.QueueDefault), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	sweeper := e.sweeper(100)
	sweeper.Batches = e.inspector
	got, err := sweeper.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jobs.SweepResult{AlreadyQueued: 3, Scanned: 3}, got); diff != "" {
		t.Errorf("sweep with the batch task live (-want +got):\n%s", diff)
	}
	for _, id := range ids {
		if s := e.taskState(jobs.QueueDefault, id); s != "none" {
			t.Errorf("entry %d: a task of its own (%s) while its batch task is live", id, s)
		}
	}

	if err := e.inspector.DeleteTask(jobs.QueueDefault, jobs.ProcessBatchTaskID(ids[0])); err != nil {
		t.Fatal(err)
	}
	got, err = sweeper.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jobs.SweepResult{Enqueued: 3, Scanned: 3}, got); diff != "" {
		t.Errorf("sweep with the batch task gone (-want +got):\n%s", diff)
	}
}

// A commit's entries leave in as few tasks as their queues and the batch bound
// allow: every entry in exactly one task, on its provider's queue.
func TestEnqueueCommittedQueuesEachEntryOnceOnItsQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := jobs.NewWebhookQueue(jobs.WebhookQueueParams{Client: e.client, Tasks: e.inspector})
	n := jobs.DefaultEnqueueBatch + 40 // two tasks on each queue
	stripe := e.insert("stripe", n, time.Now())
	shopify := e.insert("shopify", n, time.Now())
	var (
		entries []domain.InboxEntry
		results []domain.InsertResult
	)
	for i := range n {
		entries = append(entries, domain.InboxEntry{Provider: "stripe", Status: domain.InboxReceived},
			domain.InboxEntry{Provider: "shopify", Status: domain.InboxReceived})
		results = append(results, domain.InsertResult{ID: stripe[i], New: true}, domain.InsertResult{ID: shopify[i], New: true})
	}
	if err := q.EnqueueCommitted(context.Background(), entries, results); err != nil {
		t.Fatal(err)
	}
	for queue, ids := range map[string][]int64{jobs.QueueCritical: stripe, jobs.QueueDefault: shopify} {
		tasks, err := e.inspector.ListPendingTasks(queue, asynq.PageSize(1000))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]int{}
		for _, task := range tasks {
			switch task.Type {
			case jobs.TypeProcessBatch:
				var p jobs.ProcessBatchPayload
				if err := json.Unmarshal(task.Payload, &p); err != nil {
					t.Fatal(err)
				}
				for _, id := range p.InboxIDs {
					seen[id]++
				}
			case jobs.TypeProcessWebhook:
				var p jobs.ProcessWebhookPayload
				if err := json.Unmarshal(task.Payload, &p); err != nil {
					t.Fatal(err)
				}
				seen[p.InboxID]++
			}
		}
		for _, id := range ids {
			if seen[id] != 1 {
				t.Errorf("queue %s: entry %d in %d tasks, want 1", queue, id, seen[id])
			}
		}
		if len(seen) != len(ids) {
			t.Errorf("queue %s: %d entries queued, want %d (an entry on the wrong queue?)", queue, len(seen), len(ids))
		}
		t.Logf("queue %s: %d entries in %d tasks", queue, len(ids), len(tasks))
	}
}
