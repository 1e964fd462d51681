package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// Targets of the README's "Benchmarks".
const (
	ingestTargetRatio  = 1.5 // at 32 and more requests in flight
	ingestTargetLow    = 1.0 // below 32 in flight, where there is less to share a commit
	ingestHalfLoadP99  = 25 * time.Millisecond
	e2eTargetRatio     = 0.5
	benchDrainDeadline = 2 * time.Minute
	// e2eWarmup is how many webhooks warm Tradewind up before the e2e burst.
	e2eWarmup = 1000
)

// runIngestBench: at each concurrency, signed Stripe webhooks acknowledged per
// second by an in-process Tradewind (serve only: the ingress, the inbox commit
// and the enqueue), beside a loop inserting one inbox row per commit at the same
// concurrency, plain database/sql with a prepared statement, into the same
// table. Then the ack latency at half the best rate, as an open loop.
func runIngestBench(ctx context.Context, b *benchRun) ([]Figure, error) {
	b.step("starting tradewind")
	app, err := b.start(ctx, Roles{Serve: true})
	if err != nil {
		return nil, err
	}
	defer stop(app)
	maker, err := newStripeMaker(b.secret, 2500)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("postgres", b.dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	maxConc := slices.Max(b.opts.Concurrency)
	db.SetMaxOpenConns(maxConc)
	db.SetMaxIdleConns(maxConc)
	client := newWebhookClient(app.Addr, benchSource, max(maxConc, 256))
	defer client.close()

	var (
		figs []Figure
		best float64
		seq  atomic.Int64
	)
	send := func(ctx context.Context, _ int) error {
		n := strconv.FormatInt(seq.Add(1), 10)
		body, sig := maker.body("evt_ingest_"+n, "ingest-"+n)
		status, err := client.post(body, sig)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("HTTP %d", status)
		}
		return err
	}
	for _, c := range b.opts.Concurrency {
		if err := b.clearInbox(ctx); err != nil {
			return nil, err
		}
		b.step("baseline, 1 row per commit, %d at once", c)
		var base loadStats
		b.window(func() { base, err = baselineInserts(ctx, db, maker, c, b.opts.Duration) })
		if err != nil {
			return nil, err
		}
		if err := b.clearInbox(ctx); err != nil {
			return nil, err
		}
		b.step("tradewind, signed webhooks, %d at once", c)
		var tw loadStats
		b.window(func() { tw = closedLoop(ctx, c, b.opts.Duration, send) })
		if tw.ok == 0 {
			return nil, fmt.Errorf("no webhook was acknowledged at concurrency %d: %s", c, tw.firstErr)
		}
		best = max(best, tw.rate())
		target := ingestTargetRatio
		if c < 32 {
			target = ingestTargetLow
		}
		f := Figure{Name: "webhooks acked", Concurrency: c, Value: round1(tw.rate()), Unit: "/s",
			P50Ms: tw.pct(0.50), P99Ms: tw.pct(0.99)}.against("rows/s", round1(base.rate()), target)
		f.Note = fmt.Sprintf("baseline p50 %.2f ms, p99 %.2f ms", base.pct(0.5), base.pct(0.99))
		if tw.failed > 0 {
			f.Note += fmt.Sprintf("; %d requests failed, first: %s", tw.failed, tw.firstErr)
		}
		figs = append(figs, f)
	}

	if err := b.clearInbox(ctx); err != nil {
		return nil, err
	}
	half := best / 2
	b.step("tradewind at half the best rate, %.0f/s", half)
	var hl loadStats
	b.window(func() { hl = openLoop(ctx, half, b.opts.Duration, 256, send) })
	p99 := hl.pct(0.99)
	f := Figure{Name: "acked at half max load", Value: round1(hl.rate()), Unit: "/s", P50Ms: hl.pct(0.5), P99Ms: p99}.
		meets(fmt.Sprintf("p99 < %d ms", ingestHalfLoadP99.Milliseconds()), hl.failed == 0 && p99 > 0 && p99 < float64(ingestHalfLoadP99.Milliseconds()))
	f.Note = fmt.Sprintf("open loop at %.0f/s (half of the best %.0f/s); latency counted from when each request was due", half, best)
	if hl.failed > 0 {
		f.Note += fmt.Sprintf("; %d requests failed, first: %s", hl.failed, hl.firstErr)
	}
	return append(figs, f), nil
}

// baselineInserts is the ingest baseline: conc loops each inserting one inbox row
// per commit (autocommit), as pgbench would with a prepared statement. The row
// is the one Tradewind stores for such a webhook, its order ref included (so it
// goes into the same indexes).
func baselineInserts(ctx context.Context, db *sql.DB, maker *stripeMaker, conc int, d time.Duration) (loadStats, error) {
	stmt, err := db.PrepareContext(ctx, `INSERT INTO inbox (source, provider, event_id, event_type, headers, body, occurred_at, received_at, status, unconfirmed, order_ref)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`)
	if err != nil {
		return loadStats{}, fmt.Errorf("baseline: %w", err)
	}
	defer stmt.Close()
	var seq atomic.Int64
	return closedLoop(ctx, conc, d, func(ctx context.Context, _ int) error {
		n := strconv.FormatInt(seq.Add(1), 10)
		body, _ := maker.body("evt_base_"+n, "base-"+n)
		now := time.Now()
		_, err := stmt.ExecContext(ctx, benchSource, "stripe", "evt_base_"+n, "payment_intent.succeeded", maker.header, body,
			now, now, domain.InboxReceived, false, "base-"+n)
		return err
	}), nil
}

// clearInbox empties the inbox (and the queue the ingress fed) between windows,
// so that each starts from the same table. CHECKPOINT needs a superuser or
// pg_checkpoint, as the local PostgreSQL of `make run` has.
func (b *benchRun) clearInbox(ctx context.Context) error {
	db, err := sql.Open("postgres", b.dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `TRUNCATE inbox, rejections, applied_events CASCADE`); err != nil {
		return fmt.Errorf("clear the inbox: %w", err)
	}
	// A checkpoint now rather than in the middle of a window: every window pays
	// the same full-page writes, none a checkpoint's write burst.
	for _, q := range []string{`VACUUM ANALYZE inbox`, `CHECKPOINT`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("clear the inbox: %s: %w", q, err)
		}
	}
	return b.redis.FlushDB(ctx).Err()
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
