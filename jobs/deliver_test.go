package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/webhookdest"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is a Standard Webhooks receiver on loopback that verifies every
// request with the official Go library and answers with respond.
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	verify  *standardwebhooks.Webhook
	respond atomic.Pointer[func(n int, w http.ResponseWriter)]

	mu       sync.Mutex
	requests []received
}

type received struct {
	id, ts, sig string
	body        string
	verified    error
}

func newReceiver(t *testing.T) *receiver {
	wh, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, verify: wh}
	r.answer(func(int, http.ResponseWriter) {})
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.requests) + 1
		r.requests = append(r.requests, received{id: req.Header.Get("webhook-id"), ts: req.Header.Get("webhook-timestamp"),
			sig: req.Header.Get("webhook-signature"), body: string(body), verified: wh.Verify(body, req.Header)})
		r.mu.Unlock()
		(*r.respond.Load())(n, w)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) answer(f func(n int, w http.ResponseWriter)) { r.respond.Store(&f) }

// newDownReceiver is a receiver that answers status until the test sets down
// to false, then 200.
func newDownReceiver(t *testing.T, status int) (*receiver, *atomic.Bool) {
	r := newReceiver(t)
	down := new(atomic.Bool)
	down.Store(true)
	r.answer(func(_ int, w http.ResponseWriter) {
		if down.Load() {
			w.WriteHeader(status)
		}
	})
	return r, down
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

// downstream is a worker delivering to one webhook destination, with tiny
// backoffs and full jitter at its ceiling (so delays are predictable).
type downstream struct {
	*env
	dest       domain.Destination
	ledger     *postgres.Ledger
	deliveries *postgres.Deliveries
	dests      *postgres.Destinations
	sweeper    *jobs.SweepDeliveries
	clock      atomic.Int64 // seconds added to the real time (a replay's fresh timestamp)
	// maxInFlight is the worker's Deliver.MaxInFlight (set before startWorker).
	maxInFlight int
}

func newDownstream(t *testing.T, dest domain.Destination, startWorker bool) *downstream {
	e := newEnv(t)
	d := &downstream{env: e, dest: dest}
	now := func() time.Time { return time.Now().Add(time.Duration(d.clock.Load()) * time.Second) }
	d.ledger = &postgres.Ledger{DB: e.db, Destinations: []domain.Destination{dest}}
	d.deliveries = &postgres.Deliveries{DB: e.db, Now: now}
	d.dests = &postgres.Destinations{DB: e.db}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	d.sweeper = &jobs.SweepDeliveries{Outbox: d.deliveries, Queue: e.client, Tasks: e.inspector, Now: now, Logger: logger}
	if !startWorker {
		return d
	}
	d.startWorker(now)
	return d
}

func (d *downstream) startWorker(now func() time.Time) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sender := &webhookdest.Sender{Render: &webhookdest.Renderer{Orders: &postgres.Orders{DB: d.db}, Conflicts: &postgres.Conflicts{DB: d.db},
		Inventory: &postgres.Inventory{DB: d.db}}}
	deliver := &jobs.Deliver{
		Deliveries: d.deliveries, Destinations: d.dests, Now: now, Logger: logger,
		Destination: func(id string) (domain.Destination, bool) { return d.dest, id == d.dest.ID },
		Sender:      func(string) (domain.Sender, bool) { return sender, true },
		Jitter:      func(x time.Duration) time.Duration { return x },
		MaxInFlight: d.maxInFlight,
	}
	d.serveDeliveries(deliver)
	// As serve wires it: the dispatcher asks the worker's breakers, and runs.
	d.sweeper.Budget = deliver.Budget
	ctx, cancel := context.WithCancel(context.Background())
	d.t.Cleanup(cancel)
	go d.sweeper.Run(ctx, 50*time.Millisecond)
}

// serveDeliveries runs a worker of four for h's delivery tasks until the test
// ends, its retries and scheduled tasks checked every 20 ms.
func (e *env) serveDeliveries(h *jobs.Deliver) {
	e.t.Helper()
	if h.Logger == nil {
		h.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := asynq.NewServer(e.redis, asynq.Config{
		Concurrency: 4, Queues: jobs.Weights, RetryDelayFunc: jobs.RetryDelay, IsFailure: jobs.IsFailure,
		Logger: jobs.Logger{L: h.Logger}, TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 20 * time.Millisecond,
	})
	mux := asynq.NewServeMux()
	mux.Handle(jobs.TypeDeliver, h)
	if err := srv.Start(mux); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(srv.Shutdown)
}

// waitDelivered waits until n of the deliveries are delivered.
func (d *downstream) waitDelivered(n int) {
	d.t.Helper()
	waitFor(d.t, func() (bool, string) {
		got := 0
		for _, o := range d.list() {
			if o.Status == domain.DeliveryDelivered {
				got++
			}
		}
		return got == n, fmt.Sprintf("%d delivered (%d so far)", n, got)
	})
}

// waitBreakerOpen waits until the workers have recorded the destination's
// breaker open.
func (d *downstream) waitBreakerOpen() {
	d.t.Helper()
	waitFor(d.t, func() (bool, string) {
		st, err := d.dests.States(context.Background(), []string{d.dest.ID})
		return err == nil && st[d.dest.ID].Breaker == domain.BreakerOpen, "the breaker to be recorded open"
	})
}

// place applies an order placed (and paid when paid) through the ledger and
// queues the deliveries it made.
func (d *downstream) place(ref string, paid bool) {
	d.t.Helper()
	ids := d.insert("test", 1, time.Now())
	evs := []domain.Event{{Type: domain.OrderPlaced, Provider: "test", Source: "test", EventID: ref + ":placed", OrderRef: ref,
		OccurredAt: time.Now(), Version: 1, Order: &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: "USD", Total: 500}}}
	if paid {
		evs = append(evs, domain.Event{Type: domain.PaymentSucceeded, Provider: "gw", Source: "gw", EventID: ref + ":paid", OrderRef: ref,
			PaymentRef: "pay_" + ref, OccurredAt: time.Now(), Payment: &domain.PaymentChange{Amount: 500, Currency: "USD"}})
	}
	if err := d.ledger.ApplyEntry(context.Background(), ids[0], evs); err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.sweeper.Dispatch(context.Background()); err != nil {
		d.t.Fatal(err)
	}
}

func (d *downstream) list() []domain.Outbound {
	d.t.Helper()
	l, err := d.deliveries.List(context.Background(), domain.DeliveryFilter{Limit: 500})
	if err != nil {
		d.t.Fatal(err)
	}
	return l
}

func (d *downstream) one(id int64) (domain.Outbound, []domain.DeliveryAttempt) {
	d.t.Helper()
	o, a, err := d.deliveries.Delivery(context.Background(), id)
	if err != nil {
		d.t.Fatal(err)
	}
	return o, a
}

func (d *downstream) waitStatus(id int64, want domain.DeliveryStatus) {
	d.t.Helper()
	waitFor(d.t, func() (bool, string) {
		o, _ := d.one(id)
		return o.Status == want, fmt.Sprintf("delivery %d %s (now %s, %d attempts, %q)", id, want, o.Status, o.Attempts, o.LastError)
	})
}

func webhookDest(url string) domain.Destination {
	return domain.Destination{ID: "crm", Kind: domain.DestinationWebhook, URL: url, Secrets: []string{testSecret},
		Timeout: 2 * time.Second, MaxAttempts: 12, MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second,
		BreakerFailures: 50, BreakerCooldown: 100 * time.Millisecond}
}

func checkVerified(t *testing.T, reqs []received) {
	t.Helper()
	for i, r := range reqs {
		if r.verified != nil {
			t.Errorf("request %d (%s) refused by the Standard Webhooks library: %v", i+1, r.id, r.verified)
		}
	}
}

// A CRM failing three times and then taking it: one effective delivery, four
// attempts recorded with the same webhook-id, each delay longer than the last.
func TestDeliveryRetriesWithGrowingBackoffUntilTaken(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	r.answer(func(n int, w http.ResponseWriter) {
		if n <= 3 {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
		}
	})
	d := newDownstream(t, webhookDest(r.srv.URL), true)
	d.dest.Events = []domain.DownstreamType{domain.DownOrderPlaced}
	d.ledger.Destinations = []domain.Destination{d.dest}
	d.place("R1", false)
	l := d.list()
	if len(l) != 1 {
		t.Fatalf("deliveries: %+v, want one order.placed", l)
	}
	d.waitStatus(l[0].ID, domain.DeliveryDelivered)
	o, attempts := d.one(l[0].ID)
	if o.Attempts != 4 || len(attempts) != 4 {
		t.Fatalf("attempts: %d counted, %d recorded; want 4", o.Attempts, len(attempts))
	}
	for i, a := range attempts[:3] {
		if a.StatusCode != 500 || a.Error == "" || (i > 0 && a.RetryIn <= attempts[i-1].RetryIn) {
			t.Errorf("attempt %d: %+v; want a 500 recorded and a delay longer than the one before", i+1, a)
		}
	}
	if a := attempts[3]; a.StatusCode != 200 || a.Error != "" {
		t.Errorf("last attempt: %+v; want 200", a)
	}
	reqs := r.got()
	if len(reqs) != 4 {
		t.Fatalf("receiver saw %d requests, want 4", len(reqs))
	}
	for _, q := range reqs {
		if q.id != o.WebhookID {
			t.Errorf("webhook-id %q, want %q on every attempt", q.id, o.WebhookID)
		}
	}
	checkVerified(t, reqs)
}

// A CRM down for the whole outage: the breaker opens, tasks meeting it are
// postponed without spending attempts, and everything queued is delivered once
// it returns, each order's messages carrying their sequence.
func TestDestinationDownOpensBreakerWithoutBurningAttempts(t *testing.T) {
	t.Parallel()
	r, down := newDownReceiver(t, http.StatusBadGateway)
	dest := webhookDest(r.srv.URL)
	dest.BreakerFailures, dest.MaxAttempts, dest.BreakerCooldown = 3, 6, 300*time.Millisecond
	d := newDownstream(t, dest, true)
	for i := range 8 {
		d.place(fmt.Sprintf("DN%d", i), true)
	}
	l := d.list()
	if len(l) != 16 {
		t.Fatalf("%d deliveries, want 16 (placed and paid, 8 orders)", len(l))
	}
	d.waitBreakerOpen()
	// Every task has run at least once (none is pending any more), and most found
	// the breaker open: they wait with their attempts unspent.
	waitFor(t, func() (bool, string) {
		info, err := d.inspector.GetQueueInfo(jobs.QueueLow)
		return err == nil && info.Pending == 0 && info.Active == 0, "every delivery task to have run once"
	})
	untried := 0
	for _, o := range d.list() {
		if o.Status == domain.DeliveryDead {
			t.Errorf("delivery %d dead during the outage", o.ID)
		}
		if o.Attempts == 0 {
			untried++
		}
	}
	if untried < 8 {
		t.Errorf("%d of 16 deliveries untried while the breaker is open; want most (attempts must not be burnt)", untried)
	}

	down.Store(false)
	d.waitDelivered(16)
	for _, o := range d.list() {
		if o.Attempts > dest.MaxAttempts {
			t.Errorf("delivery %d: %d attempts", o.ID, o.Attempts)
		}
	}
	checkVerified(t, r.got())
}

// While the breaker is open, new deliveries wait in the outbox: no task, no
// attempt, so an outage costs the worker nothing per payment. When the
// destination is back, the probe closes the breaker and they are all delivered.
func TestOpenBreakerKeepsNewDeliveriesInTheOutbox(t *testing.T) {
	t.Parallel()
	r, down := newDownReceiver(t, http.StatusServiceUnavailable)
	dest := webhookDest(r.srv.URL)
	dest.Events = []domain.DownstreamType{domain.DownOrderPlaced}
	dest.BreakerFailures, dest.MaxAttempts, dest.BreakerCooldown = 2, 10, 3*time.Second
	d := newDownstream(t, dest, true)
	d.place("HB0", false)
	d.place("HB1", false)
	d.waitBreakerOpen()
	for i := 2; i < 7; i++ {
		d.place(fmt.Sprintf("HB%d", i), false)
	}
	var unqueued int
	// (HB1's may wait too: HB0's quick retry can open the breaker first.)
	if err := d.db.Get(&unqueued, `SELECT count(*) FROM deliveries WHERE queued_at IS NULL AND order_ref BETWEEN 'HB2' AND 'HB6'`); err != nil {
		t.Fatal(err)
	}
	if unqueued != 5 {
		t.Errorf("%d deliveries wait unqueued while the breaker is open, want the 5 made since it opened", unqueued)
	}
	down.Store(false)
	d.waitDelivered(7)
	for _, o := range d.list() {
		if o.OrderRef >= "HB2" && o.Attempts != 1 {
			t.Errorf("delivery %d of %s: %d attempts, want 1 (it waited in the outbox during the outage)", o.ID, o.OrderRef, o.Attempts)
		}
	}
}

// A destination whose latest sends failed is handed only as many new
// deliveries as it takes to open its breaker: the rest wait in the outbox.
func TestFailingDestinationGetsOnlyWhatItTakesToTrip(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	r.answer(func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	dest := webhookDest(r.srv.URL)
	dest.Events = []domain.DownstreamType{domain.DownOrderPlaced}
	dest.BreakerFailures, dest.MinBackoff, dest.MaxBackoff = 4, time.Minute, time.Minute
	d := newDownstream(t, dest, true)
	d.place("FT0", false)
	waitFor(t, func() (bool, string) {
		l := d.list()
		return len(l) == 1 && l[0].Attempts == 1, "the first delivery to have failed once"
	})
	for i := 1; i <= 5; i++ {
		d.place(fmt.Sprintf("FT%d", i), false)
	}
	var unqueued int
	if err := d.db.Get(&unqueued, `SELECT count(*) FROM deliveries WHERE queued_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	// One failure of four: at most three more may go (fewer: a failing
	// destination's budget is counted once a second, and shrinks as they fail),
	// so at least two of the five wait — one fewer when the dispatcher's loop and
	// a place dispatch at the same moment. Without a budget all five go.
	if unqueued < 1 {
		t.Errorf("%d of 5 new deliveries wait unqueued after a failure, want some (3 take the breaker to open)", unqueued)
	}
}

// 429 with Retry-After waits what the destination asked, not the backoff; 410
// disables the destination with a reason; a timeout is a failed attempt.
func TestDeliveryHonoursRetryAfterGoneAndTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		respond func(n int, w http.ResponseWriter)
		check   func(t *testing.T, d *downstream, o domain.Outbound, attempts []domain.DeliveryAttempt)
	}{
		{"429 with Retry-After", func(n int, w http.ResponseWriter) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}, func(t *testing.T, d *downstream, o domain.Outbound, attempts []domain.DeliveryAttempt) {
			d.waitStatus(o.ID, domain.DeliveryDelivered)
			_, attempts = d.one(o.ID)
			if len(attempts) != 2 || attempts[0].StatusCode != 429 || attempts[0].RetryIn != time.Second {
				t.Errorf("attempts %+v; want a 429 that waited the 1s asked (not the 20ms backoff), then delivered", attempts)
			}
		}},
		{"410 disables", func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) },
			func(t *testing.T, d *downstream, o domain.Outbound, _ []domain.DeliveryAttempt) {
				waitFor(t, func() (bool, string) {
					st, _ := d.dests.States(context.Background(), []string{"crm"})
					return !st["crm"].Enabled && st["crm"].DisabledReason != "", "the destination disabled with a reason"
				})
				waitFor(t, func() (bool, string) {
					o, a := d.one(o.ID)
					return len(a) == 1 && o.Status == domain.DeliveryFailed, "the 410 attempt recorded"
				})
			}},
		{"timeout", func(n int, w http.ResponseWriter) {
			if n == 1 {
				time.Sleep(300 * time.Millisecond) // the receiver hangs past the destination's timeout
			}
		}, func(t *testing.T, d *downstream, o domain.Outbound, _ []domain.DeliveryAttempt) {
			d.waitStatus(o.ID, domain.DeliveryDelivered)
			_, attempts := d.one(o.ID)
			if len(attempts) != 2 || attempts[0].StatusCode != 0 || attempts[0].Error == "" {
				t.Errorf("attempts %+v; want a timed-out attempt recorded as a failure, then delivered", attempts)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t)
			r.answer(tt.respond)
			dest := webhookDest(r.srv.URL)
			dest.Timeout = 100 * time.Millisecond
			dest.Events = []domain.DownstreamType{domain.DownOrderPlaced}
			d := newDownstream(t, dest, true)
			d.place("T1", false)
			l := d.list()
			if len(l) != 1 {
				t.Fatalf("deliveries %+v", l)
			}
			tt.check(t, d, l[0], nil)
		})
	}
}

// A destination that hangs holds at most MaxInFlight of the worker's slots: the
// other deliveries wait, their attempts unspent, instead of hanging beside it
// (with 4 slots and no cap, three hung at once and payments had one slot left).
func TestHangingDestinationHoldsAtMostMaxInFlightSlots(t *testing.T) {
	t.Parallel()
	var hanging atomic.Bool
	hanging.Store(true)
	var inFlight, peak, hung atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body) // read: the request's context ends when the sender gives up
		if !hanging.Load() {
			return
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		hung.Add(1)
		<-req.Context().Done() // hangs until the sender's timeout
	}))
	t.Cleanup(srv.Close)
	dest := webhookDest(srv.URL)
	dest.Timeout, dest.MaxAttempts = 300*time.Millisecond, 1000
	dest.Events = []domain.DownstreamType{domain.DownOrderPlaced}
	d := newDownstream(t, dest, false)
	d.maxInFlight = 1
	d.startWorker(time.Now)
	for i := range 3 {
		d.place(fmt.Sprintf("HG%d", i), false)
	}
	waitFor(t, func() (bool, string) {
		return hung.Load() >= 4, fmt.Sprintf("4 attempts to have hung (%d have)", hung.Load())
	})
	if p := peak.Load(); p != 1 {
		t.Errorf("%d requests hung at once at the destination; want 1 (MaxInFlight)", p)
	}
	hanging.Store(false)
	for _, o := range d.list() {
		d.waitStatus(o.ID, domain.DeliveryDelivered)
	}
}

// A dead letter replayed in bulk is delivered once more with the same
// webhook-id and a fresh timestamp and signature.
func TestDeadLetterBulkReplayKeepsTheWebhookID(t *testing.T) {
	t.Parallel()
	r, down := newDownReceiver(t, http.StatusInternalServerError)
	dest := webhookDest(r.srv.URL)
	dest.MaxAttempts = 2
	dest.Events = []domain.DownstreamType{domain.DownOrderPlaced}
	d := newDownstream(t, dest, true)
	d.place("DL1", false)
	id := d.list()[0].ID
	d.waitStatus(id, domain.DeliveryDead)
	before := r.got()

	down.Store(false)
	d.clock.Add(5) // the replay happens later: a fresh timestamp
	again, err := d.deliveries.RetryMatching(context.Background(), "crm", domain.DeliveryDead, time.Time{}, time.Time{}, 0, domain.RetryPage)
	if err != nil || len(again) != 1 {
		t.Fatalf("bulk retry: %v %v", again, err)
	}
	if _, err := jobs.EnqueueDelivery(context.Background(), d.client, d.inspector, id); err != nil {
		t.Fatal(err)
	}
	d.waitStatus(id, domain.DeliveryDelivered)
	after := r.got()
	if len(after) != len(before)+1 {
		t.Fatalf("receiver saw %d requests after the replay, want %d", len(after), len(before)+1)
	}
	last, first := after[len(after)-1], before[0]
	if last.id != first.id || last.ts == first.ts || last.sig == first.sig {
		t.Errorf("replay: id %q ts %s sig %s; first: id %q ts %s sig %s; want the same id, a fresh timestamp and signature",
			last.id, last.ts, last.sig, first.id, first.ts, first.sig)
	}
	checkVerified(t, after)
}

// A worker killed after the apply committed, before it queued the deliveries
// (or with Redis losing the tasks), loses nothing: the rows are the outbox, and
// the sweeper queues them.
func TestSweeperQueuesDeliveriesWhoseTaskWasLost(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	dest := webhookDest(r.srv.URL)
	dest.Events = []domain.DownstreamType{domain.DownOrderPlaced}
	d := newDownstream(t, dest, false)
	ctx := context.Background()
	// Committed, never queued: the worker died between commit and dispatch.
	ids := d.insert("test", 1, time.Now())
	if err := d.ledger.ApplyEntry(ctx, ids[0], []domain.Event{{Type: domain.OrderPlaced, Provider: "test", Source: "test",
		EventID: "K1:placed", OrderRef: "K1", OccurredAt: time.Now(), Version: 1,
		Order: &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: "USD", Total: 100}}}); err != nil {
		t.Fatal(err)
	}
	// Queued, then lost with Redis's data.
	d.place("K2", false)
	if _, err := d.inspector.DeleteAllPendingTasks(jobs.QueueLow); err != nil {
		t.Fatal(err)
	}
	if err := d.sweeper.ProcessTask(ctx, jobs.NewSweepDeliveriesTask()); err != nil {
		t.Fatal(err)
	}
	d.startWorker(time.Now)
	for _, o := range d.list() {
		d.waitStatus(o.ID, domain.DeliveryDelivered)
	}
	if n := len(r.got()); n != 2 {
		t.Errorf("receiver saw %d requests, want 2", n)
	}
}

// countingOutbox is the real outbox, counting how often the dispatcher looks for
// destinations with new deliveries.
type countingOutbox struct {
	jobs.Outbox
	looks atomic.Int64
}

func (o *countingOutbox) UnqueuedDestinations(ctx context.Context) ([]string, error) {
	o.looks.Add(1)
	return o.Outbox.UnqueuedDestinations(ctx)
}

// While every destination with new deliveries is held, a Kick (one after every
// apply) does not read the outbox: the interval's dispatch does.
func TestKickDoesNotReadTheOutboxWhileEveryWaitingDestinationIsHeld(t *testing.T) {
	t.Parallel()
	dest := webhookDest("http://127.0.0.1:9/")
	d := newDownstream(t, dest, false)
	d.place("KH1", false) // one delivery, queued by place's own dispatch
	ids := d.insert("test", 1, time.Now())
	if err := d.ledger.ApplyEntry(context.Background(), ids[0], []domain.Event{{Type: domain.OrderPlaced, Provider: "test",
		Source: "test", EventID: "KH2:placed", OrderRef: "KH2", OccurredAt: time.Now(), Version: 1,
		Order: &domain.OrderSnapshot{Status: domain.StatusPlaced, Currency: "USD", Total: 100}}}); err != nil {
		t.Fatal(err)
	}
	out := &countingOutbox{Outbox: d.deliveries}
	asked := make(chan string, 16)
	var budget atomic.Int64 // 0: held
	sw := &jobs.SweepDeliveries{Outbox: out, Queue: d.client, Tasks: d.inspector, Now: time.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Budget: func(dest string) int { asked <- dest; return int(budget.Load()) }}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go sw.Run(ctx, time.Hour)

	wait := func(what string) {
		t.Helper()
		select {
		case <-asked:
		case <-time.After(20 * time.Second):
			t.Fatalf("the dispatcher did not ask the budget %s", what)
		}
	}
	sw.Kick()
	wait("at the first dispatch")
	wait("whether all it found is held")
	for i := range 3 {
		sw.Kick()
		wait(fmt.Sprintf("at kick %d", i+1))
		if n := out.looks.Load(); n != 1 {
			t.Fatalf("the outbox was read %d times after %d kicks while held, want once (the first dispatch)", n, i+1)
		}
	}
	budget.Store(-1) // the breaker closed
	sw.Kick()
	waitFor(t, func() (bool, string) {
		var unqueued int
		err := d.db.Get(&unqueued, `SELECT count(*) FROM deliveries WHERE queued_at IS NULL`)
		return err == nil && unqueued == 0, fmt.Sprintf("the held delivery queued once the destination is not held (%d wait)", unqueued)
	})
}
