package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/jobs"
)

// runE2EBench: webhook in → order changed. First Asynq's own rate on this
// machine: a server with the workers' concurrency processing pre-queued no-op
// tasks. Then an in-process Tradewind (serve + work), warmed up with e2eWarmup
// webhooks (not measured): a burst of --events
// webhooks, each paying a new order, from --senders at once, drained to the last
// order, gives the applied rate; then an open loop at 70% of that rate gives the
// sustained latency from sending a webhook to its order's change being committed.
// Every tenth webhook is sent twice, as providers retry. Lost and applied-twice
// counts are read from the database at the end.
func runE2EBench(ctx context.Context, b *benchRun) ([]Figure, error) {
	b.step("asynq: %d no-op tasks, %d workers", b.opts.NoopTasks, b.opts.Workers)
	var (
		noop float64
		err  error
	)
	b.window(func() { noop, err = asynqNoopRate(ctx, b, b.opts.NoopTasks, b.opts.Workers) })
	if err != nil {
		return nil, err
	}
	if err := b.redis.FlushDB(ctx).Err(); err != nil {
		return nil, err
	}

	b.step("starting tradewind")
	app, err := b.start(ctx, Roles{Serve: true, Work: true})
	if err != nil {
		return nil, err
	}
	defer stop(app)
	db := app.DB
	maker, err := newStripeMaker(b.secret, 2500)
	if err != nil {
		return nil, err
	}
	client := newWebhookClient(app.Addr, benchSource, max(b.opts.Senders, 256))
	defer client.close()

	// The Asynq baseline's 30,000 tasks carry their own start the same way.
	warmup, err := b.warmUp(ctx, "", db, maker, client)
	if err != nil {
		return nil, err
	}

	// Burst: --events webhooks as fast as the senders go, then drained; the
	// applied rate is the whole pipeline's (the ingress and the workers share the
	// machine), from the first send to the last order changed.
	b.step("tradewind burst, %d webhooks from %d senders", b.opts.Events, b.opts.Senders)
	burst := newE2ELoad("burst", maker, client)
	var ls loadStats
	start := time.Now()
	b.window(func() {
		ls = countedLoop(ctx, b.opts.Senders, b.opts.Events, burst.send)
		b.step("draining the burst (%d webhooks)", burst.acked())
		err = waitApplied(ctx, db, warmup.acked()+burst.acked(), benchDrainDeadline)
	})
	if err != nil {
		return nil, err
	}
	if ls.ok == 0 {
		return nil, fmt.Errorf("no webhook was acknowledged: %s", ls.firstErr)
	}
	var lastApplied sql.NullTime
	if err := db.GetContext(ctx, &lastApplied, `SELECT max(applied_at) FROM inbox WHERE event_id LIKE 'evt_burst_%'`); err != nil {
		return nil, err
	}
	if !lastApplied.Valid {
		return nil, fmt.Errorf("none of the %d acknowledged webhooks was applied in %s; the workers' errors are in the log (stderr)",
			burst.acked(), time.Since(start).Round(time.Second))
	}
	last := lastApplied.Time
	applied := float64(burst.acked()) / last.Sub(start).Seconds()

	// Sustained: an open loop below capacity, for the latency.
	rate := 0.7 * applied
	b.step("tradewind sustained at %.0f/s", rate)
	steady := newE2ELoad("steady", maker, client)
	var ss loadStats
	b.window(func() { ss = openLoop(ctx, rate, b.opts.Duration, 256, steady.send) })
	b.step("draining (%d webhooks)", steady.acked())
	if err := waitApplied(ctx, db, warmup.acked()+burst.acked()+steady.acked(), benchDrainDeadline); err != nil {
		return nil, err
	}
	lat, err := steady.latencies(ctx, db)
	if err != nil {
		return nil, err
	}

	lost, twice, err := verifyE2E(ctx, db, warmup.acked()+burst.acked()+steady.acked())
	if err != nil {
		return nil, err
	}
	figs := []Figure{
		Figure{Name: "events applied", Value: round1(applied), Unit: "/s",
			Note: fmt.Sprintf("%d webhooks from %d senders, %d workers: the last order changed %s after the first was sent",
				burst.acked(), b.opts.Senders, b.opts.Workers, last.Sub(start).Round(time.Millisecond))}.
			against("no-op tasks/s", round1(noop), e2eTargetRatio),
		Figure{Name: "sustained, webhook → order", Value: round1(ss.rate()), Unit: "/s",
			P50Ms: percentile(lat, 0.5), P99Ms: percentile(lat, 0.99),
			Note: fmt.Sprintf("open loop at %.0f/s (70%% of the applied rate); latency from sending to the apply transaction", rate)},
		Figure{Name: "lost", Value: float64(lost), Unit: "events"}.meets("0", lost == 0),
		Figure{Name: "applied twice", Value: float64(twice), Unit: "events"}.meets("0", twice == 0),
	}
	if failed := ls.failed + ss.failed; failed > 0 {
		figs[0].Note += fmt.Sprintf("; %d requests failed, first: %s", failed, cmpOr(ls.firstErr, ss.firstErr))
	}
	return figs, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// e2eLoad sends webhooks that each pay a new order, remembering when each
// acknowledged one was first sent.
type e2eLoad struct {
	phase  string
	maker  *stripeMaker
	client *webhookClient
	seq    atomic.Int64
	mu     sync.Mutex
	sentAt map[string]time.Time // event id → first send, for acknowledged events
}

// warmUp sends e2eWarmup webhooks (fewer when --events is smaller), not
// measured, and waits until they are applied: the connection pools fill,
// statements are prepared and the workers' queues are polled, as in a process
// that has been serving a while. label names the run in the progress line.
func (b *benchRun) warmUp(ctx context.Context, label string, db *sqlx.DB, maker *stripeMaker, client *webhookClient) (*e2eLoad, error) {
	warm := min(e2eWarmup, b.opts.Events)
	b.step("%swarming up, %d webhooks", label, warm)
	warmup := newE2ELoad("warmup", maker, client)
	if ws := countedLoop(ctx, b.opts.Senders, warm, warmup.send); ws.ok == 0 {
		return nil, fmt.Errorf("no webhook of the warm-up was acknowledged: %s", ws.firstErr)
	}
	return warmup, waitApplied(ctx, db, warmup.acked(), benchDrainDeadline)
}

func newE2ELoad(phase string, maker *stripeMaker, client *webhookClient) *e2eLoad {
	return &e2eLoad{phase: phase, maker: maker, client: client, sentAt: map[string]time.Time{}}
}

func (l *e2eLoad) send(_ context.Context, _ int) error {
	n := l.seq.Add(1)
	id := "evt_" + l.phase + "_" + strconv.FormatInt(n, 10)
	body, sig := l.maker.body(id, l.phase+"-"+strconv.FormatInt(n, 10))
	at := time.Now()
	for try := range 1 + int(boolInt(n%10 == 0)) { // every tenth is delivered twice
		status, err := l.client.post(body, sig)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("HTTP %d", status)
		}
		if err != nil {
			return err
		}
		if try == 0 {
			l.mu.Lock()
			l.sentAt[id] = at
			l.mu.Unlock()
		}
	}
	return nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (l *e2eLoad) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sentAt)
}

// latencies reads when each acknowledged event was applied: the start of the
// transaction that applied it (inbox.applied_at), its commit a few statements later.
func (l *e2eLoad) latencies(ctx context.Context, db *sqlx.DB) ([]time.Duration, error) {
	var rows []struct {
		EventID   string    `db:"event_id"`
		AppliedAt time.Time `db:"applied_at"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT event_id, applied_at FROM inbox WHERE event_id LIKE $1 AND applied_at IS NOT NULL`,
		"evt_"+l.phase+"_%"); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]time.Duration, 0, len(rows))
	for _, r := range rows {
		if at, ok := l.sentAt[r.EventID]; ok {
			out = append(out, max(0, r.AppliedAt.Sub(at)))
		}
	}
	slices.Sort(out)
	return out, nil
}

// waitApplied waits until want entries of the inbox are applied, or until
// nothing has moved for deadline (what is left is then counted as lost). It
// polls the inbox's status index a few times a second: the bench must not
// compete with what it measures.
func waitApplied(ctx context.Context, db *sqlx.DB, want int, deadline time.Duration) error {
	last, moved := -1, time.Now()
	for {
		// While entries wait, count those (a small partial index), not the
		// applied ones (the whole table): the poll runs during the measurement.
		var n int
		if err := db.GetContext(ctx, &n, `SELECT count(*) FROM inbox WHERE status = 'received'`); err != nil {
			return err
		}
		if n == 0 {
			var applied int
			if err := db.GetContext(ctx, &applied, `SELECT count(*) FROM inbox WHERE status = 'applied'`); err != nil {
				return err
			}
			if applied >= want {
				return nil
			}
		}
		if n != last {
			last, moved = n, time.Now()
		}
		if time.Since(moved) > deadline {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// verifyE2E counts, from the database, the acknowledged events whose order did
// not change (lost: its payment not recorded as paid) and the entries applied
// more than once (an apply transaction committed twice for one inbox entry, or
// two applied events for one order, each order being paid by one event).
func verifyE2E(ctx context.Context, db *sqlx.DB, acked int) (lost, twice int, err error) {
	var paid, multiAttempt, multiEvent int
	err = errors.Join(
		db.GetContext(ctx, &paid, `SELECT count(*) FROM orders WHERE payment_status = 'paid'`),
		db.GetContext(ctx, &multiAttempt, `SELECT count(*) FROM inbox WHERE attempts > 1`),
		db.GetContext(ctx, &multiEvent, `SELECT count(*) FROM (SELECT order_ref FROM applied_events GROUP BY order_ref HAVING count(*) > 1) x`),
	)
	return max(0, acked-paid), multiAttempt + multiEvent, err
}

// asynqNoopRate is Asynq's own rate on this machine: n no-op tasks are queued,
// then a server with the given concurrency (and Tradewind's queues) processes
// them; the rate is n over the time from starting the server to the last task.
func asynqNoopRate(ctx context.Context, b *benchRun, n, concurrency int) (float64, error) {
	opt, err := b.asynqRedis()
	if err != nil {
		return 0, err
	}
	client := asynq.NewClient(opt)
	defer client.Close()
	var (
		wg     sync.WaitGroup
		next   atomic.Int64
		enqErr atomic.Value
	)
	for range 32 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := client.EnqueueContext(ctx, asynq.NewTask("bench:noop", nil), asynq.Queue(jobs.QueueDefault)); err != nil {
					enqErr.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := enqErr.Load().(error); err != nil {
		return 0, fmt.Errorf("queue no-op tasks: %w", err)
	}

	var done atomic.Int64
	all := make(chan struct{})
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: concurrency, Queues: jobs.Weights, Logger: jobs.Logger{L: quietLogger}, LogLevel: asynq.FatalLevel,
		TaskCheckInterval: 100 * time.Millisecond,
	})
	start := time.Now()
	err = srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		if done.Add(1) == int64(n) {
			close(all)
		}
		return nil
	}))
	if err != nil {
		return 0, err
	}
	defer srv.Shutdown()
	select {
	case <-all:
	case <-time.After(benchDrainDeadline + time.Duration(n)*time.Millisecond):
		return 0, fmt.Errorf("asynq processed only %d of %d no-op tasks", done.Load(), n)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
