package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/adapters/httpapi"
	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	tprom "github.com/tradewind/tradewind/adapters/prometheus"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
	"github.com/tradewind/tradewind/jobs"
)

// countingClient is Asynq's client, counting the enqueues that reach it.
type countingClient struct {
	*asynq.Client
	calls atomic.Int64
}

func (c *countingClient) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	c.calls.Add(1)
	return c.Client.EnqueueContext(ctx, t, opts...)
}

// breakerEnv is a WebhookQueue on a real Redis that the test can stop.
type breakerEnv struct {
	redis     *testenv.Redis
	client    *countingClient
	inspector *asynq.Inspector
	queue     *jobs.WebhookQueue
}

func newBreakerEnv(t *testing.T, openFor time.Duration) *breakerEnv {
	t.Helper()
	r := testenv.StartRedis(t)
	opt, err := asynq.ParseRedisURI(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	e := &breakerEnv{redis: r, client: &countingClient{Client: asynq.NewClient(opt)}, inspector: asynq.NewInspector(opt)}
	t.Cleanup(func() { e.client.Close(); e.inspector.Close() })
	e.queue = jobs.NewWebhookQueue(jobs.WebhookQueueParams{Client: e.client, Tasks: e.inspector, OpenFor: openFor})
	return e
}

// TestWebhookQueueBreaker: with Redis down, the first enqueues try it and fail;
// after three in a row the breaker opens and enqueues fail at once, EUNAVAILABLE,
// without touching Redis; once Redis is back and the breaker's wait is over, an
// enqueue goes through again.
func TestWebhookQueueBreaker(t *testing.T) {
	t.Parallel()
	e := newBreakerEnv(t, 200*time.Millisecond)
	ctx := context.Background()
	src := domain.Source{ID: "acme-stripe", Provider: stripe.Kind}

	e.redis.Stop()
	for i := range 3 {
		if err := e.queue.Enqueue(ctx, int64(10+i), src); domain.ErrorCode(err) != domain.EUNAVAILABLE {
			t.Fatalf("Enqueue %d with Redis down = %v, want %s", i, err, domain.EUNAVAILABLE)
		}
	}
	if !e.queue.Open() {
		t.Fatal("the breaker is closed after 3 failed enqueues in a row, want open")
	}
	for i := range 10 {
		if err := e.queue.Enqueue(ctx, int64(20+i), src); domain.ErrorCode(err) != domain.EUNAVAILABLE {
			t.Fatalf("Enqueue with the breaker open = %v, want %s", err, domain.EUNAVAILABLE)
		}
	}
	if n := e.client.calls.Load(); n != 3 {
		t.Errorf("%d enqueues reached Redis, want 3 (none while the breaker is open)", n)
	}

	e.redis.Start()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return e.queue.Enqueue(ctx, 30, src) == nil, "an enqueue to go through once Redis is back"
	})
	if info, err := e.inspector.GetTaskInfo(jobs.QueueCritical, jobs.ProcessWebhookTaskID(30)); err != nil || info.State != asynq.TaskStatePending {
		t.Errorf("task of entry 30: %v, %v; want pending on %s", info, err, jobs.QueueCritical)
	}
}

// TestWebhookQueueBreakerIgnoresCallersThatGaveUp: an enqueue whose caller's
// context is cancelled says nothing about Redis and does not trip the breaker.
func TestWebhookQueueBreakerIgnoresCallersThatGaveUp(t *testing.T) {
	t.Parallel()
	e := newBreakerEnv(t, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := domain.Source{ID: "acme-stripe", Provider: stripe.Kind}
	for i := range 5 {
		_ = e.queue.Enqueue(ctx, int64(i+1), src)
	}
	if e.queue.Open() {
		t.Fatal("the breaker opened on cancelled callers")
	}
	if err := e.queue.Enqueue(context.Background(), 9, src); err != nil {
		t.Errorf("Enqueue = %v, want it queued", err)
	}
}

// TestIngressAcknowledgesWhileTheBreakerIsOpenAndTheSweeperQueuesLater drives the
// real ingress over a real PostgreSQL inbox with the WebhookQueue on a Redis that
// is down: every webhook is answered 200 (it is committed), only the first three
// enqueues try Redis, and once Redis is back the sweeper queues every entry.
func TestIngressAcknowledgesWhileTheBreakerIsOpenAndTheSweeperQueuesLater(t *testing.T) {
	t.Parallel()
	e := newBreakerEnv(t, time.Hour) // stays open for the whole test
	db := pgtest.Open(t, 5)
	inbox := &postgres.Inbox{DB: db}
	const secret = "whsec_breaker"
	src := domain.Source{ID: "acme-stripe", Provider: stripe.Kind, Secrets: []string{secret}}
	logger := slog.New(slog.DiscardHandler)
	server := httpapi.New(httpapi.Params{
		Sources: domain.Sources{src.ID: src}, Providers: registry.New(), Inbox: inbox, Queue: e.queue, Backlog: e.queue,
		Metrics: tprom.New(), APIToken: "breaker-test-token-0123", MaxBody: 64 << 10, Logger: logger,
	})

	e.redis.Stop()
	e.client.calls.Store(0)
	const n = 8
	for i := range n {
		req, err := stripe.Provider{}.Sample(src, "payment_intent.succeeded",
			webhook.SampleOptions{EventID: fmt.Sprintf("evt_breaker_%d", i), OrderRef: "9001"})
		if err != nil {
			t.Fatal(err)
		}
		hr := httptest.NewRequest(http.MethodPost, "/webhooks/"+src.ID, bytes.NewReader(req.Body))
		hr.Header = req.Header
		resp, err := server.App().Test(hr, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook %d with Redis down: %d %s, want 200 (the row is committed)", i, resp.StatusCode, body)
		}
	}
	if got := e.client.calls.Load(); got != 3 {
		t.Errorf("%d enqueues reached Redis, want 3: the breaker opens after three failures", got)
	}
	if !e.queue.Open() {
		t.Error("the breaker is closed, want open")
	}
	var received int
	if err := db.Get(&received, `SELECT count(*) FROM inbox WHERE status = 'received'`); err != nil {
		t.Fatal(err)
	}
	if received != n {
		t.Fatalf("%d entries received in the inbox, want %d", received, n)
	}

	e.redis.Start()
	sweeper := &jobs.SweepInbox{Inbox: inbox, Queue: e.client.Client, Tasks: e.inspector, Grace: time.Minute,
		Now: func() time.Time { return time.Now().Add(time.Hour) }, Logger: logger}
	got, err := sweeper.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Enqueued != n {
		t.Errorf("the sweeper queued %d entries, want %d: %+v", got.Enqueued, n, got)
	}
	backlog, err := jobs.Backlog(context.Background(), e.inspector)
	if err != nil {
		t.Fatal(err)
	}
	if backlog[jobs.QueueCritical] != n {
		t.Errorf("backlog %v, want %d on %s", backlog, n, jobs.QueueCritical)
	}
}

// TestEnqueueCommittedQueuesATaskPerQueue: a commit's new received entries leave
// as one task per queue: a batch task for the gateway's several, a single task
// for the storefront's one. Duplicates and ignored entries get none.
func TestEnqueueCommittedQueuesATaskPerQueue(t *testing.T) {
	e := newBreakerEnv(t, time.Second)
	received := func(provider string) domain.InboxEntry {
		return domain.InboxEntry{Provider: provider, Status: domain.InboxReceived}
	}
	entries := []domain.InboxEntry{received("stripe"), received("shopify"), received("adyen"),
		received("stripe"), {Provider: "stripe", Status: domain.InboxIgnored}}
	results := []domain.InsertResult{{ID: 11, New: true}, {ID: 12, New: true}, {ID: 13, New: true},
		{ID: 14, New: false}, {ID: 15, New: true}}
	if err := e.queue.EnqueueCommitted(context.Background(), entries, results); err != nil {
		t.Fatal(err)
	}
	if n := e.client.calls.Load(); n != 2 {
		t.Errorf("%d enqueues, want 2 (one per queue)", n)
	}
	batch, err := e.inspector.GetTaskInfo(jobs.QueueCritical, jobs.ProcessBatchTaskID(11))
	if err != nil {
		t.Fatalf("the gateways' batch task: %v", err)
	}
	var p jobs.ProcessBatchPayload
	if err := json.Unmarshal(batch.Payload, &p); err != nil || !slices.Equal(p.InboxIDs, []int64{11, 13}) {
		t.Errorf("batch task holds %v (%v), want [11 13]", p.InboxIDs, err)
	}
	if _, err := e.inspector.GetTaskInfo(jobs.QueueDefault, jobs.ProcessWebhookTaskID(12)); err != nil {
		t.Errorf("the storefront's single task: %v", err)
	}

	e.redis.Stop()
	err = e.queue.EnqueueCommitted(context.Background(), entries[:1], results[:1])
	if domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Errorf("with Redis down: %v, want EUNAVAILABLE", err)
	}
}
