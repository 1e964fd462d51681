package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/ratelog"
)

// InboxBatcher is the inbox with group commit: concurrent Insert calls share one
// multi-row INSERT and one COMMIT, so a storm of webhooks costs a few commits
// instead of one each. Every other method is the plain Inbox's.
//
// Batching is natural, without a timer: a call that finds the commit loop idle
// goes to PostgreSQL at once; while it commits, the calls that arrive meanwhile
// collect into the next batch. Each caller is answered only once
// its own batch has committed, with exactly its own results. When a batch's
// statement fails, its calls are committed again apart, so that only the call at
// fault gets the error (EINVALID for a value PostgreSQL cannot store); none of
// that call's rows exists.
type InboxBatcher struct {
	*Inbox // Get, Pending, MarkAttempt and Reject go straight to the inbox

	p     InboxBatcherParams
	calls chan *insertCall
	done  chan struct{} // closed when every commit loop has ended and every caller been answered

	// flushCtx bounds the batches' statements; Shutdown cancels it when its ctx
	// ends first.
	flushCtx    context.Context
	cancelFlush context.CancelFunc

	mu    sync.RWMutex // guards state against sends on a closed calls channel
	state int

	// waiting counts calls accepted but not yet handed to a batch.
	waiting atomic.Int64

	stmtMu sync.Mutex
	stmt   *sqlx.Stmt // insertSQL, prepared on first use

	warn *ratelog.Logger // Queue's failures, which a Redis outage repeats on every commit
}

// warnEvery is how often the batcher writes a warning of one kind at most.
const warnEvery = 10 * time.Second

// InboxBatcherParams configure an InboxBatcher.
type InboxBatcherParams struct {
	Inbox *Inbox
	// MaxRows is the most rows one batch inserts (default 256). A single call with
	// more entries is a batch of its own.
	MaxRows int
	// MaxInFlight is the number of commit loops, each committing one batch at a
	// time on its own connection (default 1). Fewer, larger batches cost
	// PostgreSQL less, and their tasks cost the worker less: on 2 cores, one
	// loop acknowledged 15-30% more webhooks than two at 8-64 concurrent
	// requests (bench ingest; two commits at once mostly wait for each other's
	// WAL flush), and the worker applied 10-15% more of them (bench e2e, fewer
	// and larger tasks). The price: a commit that stalls (a lock wait, an I/O
	// stall) holds up every request behind it, where a second loop would let
	// others by.
	MaxInFlight int
	// Queue, when set, queues the tasks of each commit's new received entries
	// before its callers are answered (their results say Queued), so that a
	// commit's webhooks reach the worker as one task per queue. A failure is
	// logged (at most every warnEvery) and left to the sweeper.
	Queue  domain.CommitQueue
	Logger *slog.Logger
	Now    func() time.Time // the warnings' clock (time.Now when nil)
}

const (
	batcherNew = iota
	batcherRunning
	batcherStopped
)

var _ domain.Inbox = (*InboxBatcher)(nil)

type insertCall struct {
	ctx     context.Context
	entries []domain.InboxEntry
	done    chan insertOutcome // buffered: answering never waits for a caller that gave up
}

type insertOutcome struct {
	results []domain.InsertResult
	err     error
}

// NewInboxBatcher returns a batcher; Start it before the first Insert.
func NewInboxBatcher(p InboxBatcherParams) *InboxBatcher {
	if p.MaxRows <= 0 {
		p.MaxRows = 256
	}
	if p.MaxInFlight <= 0 {
		p.MaxInFlight = 1
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	return &InboxBatcher{
		Inbox: p.Inbox, p: p, warn: ratelog.New(p.Logger, warnEvery, p.Now),
		calls: make(chan *insertCall, p.MaxRows),
		done:  make(chan struct{}),
	}
}

// Start starts the commit loops. ctx bounds only the start: the batcher runs
// until Shutdown, so that requests still in flight when a process is told to
// stop are stored and answered.
func (b *InboxBatcher) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != batcherNew {
		return domain.Errorf(domain.EINTERNAL, "inbox batcher started twice")
	}
	b.state = batcherRunning
	b.flushCtx, b.cancelFlush = context.WithCancel(context.Background())
	var loops, answers sync.WaitGroup
	for range b.p.MaxInFlight {
		loops.Go(func() { b.commitLoop(&answers) })
	}
	go func() {
		loops.Wait()
		answers.Wait()
		close(b.done)
	}()
	return nil
}

// Shutdown stops accepting calls, commits the ones already accepted and waits for
// every batch to finish. When ctx ends first, batches still committing are
// cancelled (their callers get an error, their rows roll back) and ctx's error is
// returned.
func (b *InboxBatcher) Shutdown(ctx context.Context) error {
	b.mu.RLock()
	cancel := b.cancelFlush
	b.mu.RUnlock()
	if cancel != nil {
		defer context.AfterFunc(ctx, cancel)() // also while waiting for calls still being handed over
	}
	b.mu.Lock()
	started := b.state != batcherNew
	if b.state == batcherRunning {
		close(b.calls)
	}
	b.state = batcherStopped
	b.mu.Unlock()
	if !started {
		return nil
	}
	var err error
	select {
	case <-b.done:
	case <-ctx.Done():
		<-b.done // cancelled statements return promptly
		err = ctx.Err()
	}
	cancel()
	b.stmtMu.Lock()
	if b.stmt != nil {
		_ = b.stmt.Close()
	}
	b.stmtMu.Unlock()
	return err
}

// Waiting returns the number of Insert calls accepted but not yet in a batch
// being committed: the queue in front of the commit loops.
func (b *InboxBatcher) Waiting() int { return int(b.waiting.Load()) }

// Insert implements domain.Inbox: the entries are committed with those of
// concurrent calls, in one statement and one commit. It returns once that commit
// has succeeded or failed; the results are this call's own, in order. Entries of
// other calls never fail this one. Returns EINVALID (reason unstorable) when
// PostgreSQL refuses a value of these entries, EUNAVAILABLE when the database
// cannot be reached or the batcher is not running, and ctx's error when ctx ends first (the entries may then be stored or not;
// a retry is answered as a duplicate if they were).
func (b *InboxBatcher) Insert(ctx context.Context, entries []domain.InboxEntry) ([]domain.InsertResult, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	call := &insertCall{ctx: ctx, entries: entries, done: make(chan insertOutcome, 1)}
	b.mu.RLock()
	if b.state != batcherRunning {
		b.mu.RUnlock()
		return nil, domain.Errorf(domain.EUNAVAILABLE, "inbox insert: the inbox is not accepting writes (shutting down); retry shortly")
	}
	b.waiting.Add(1)
	select {
	case b.calls <- call:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.waiting.Add(-1)
		b.mu.RUnlock()
		return nil, translate("inbox insert", ctx.Err())
	}
	select {
	case out := <-call.done:
		return out.results, out.err
	case <-ctx.Done():
		return nil, translate("inbox insert", ctx.Err())
	}
}

// commitLoop commits batches one after another until calls is closed and
// drained. Each batch is every call waiting when the last commit ended (up to
// MaxRows), so calls that arrive during a commit share the next. The loop goes
// from one commit to the next itself, without waking another goroutine: on a
// busy process each wake-up waits for a free P. An earlier design (a collector
// handing each batch to a new goroutine, and woken again when its commit slot
// was freed) put two such waits between commits; going without them
// acknowledged 10-30% more webhooks at 8 and 32 requests in flight (bench
// ingest), and what is left between one commit's answer and the next
// statement is 30-100 µs of Go. Answering goes to a goroutine of its own
// (answer), so the next commit does not wait for the enqueue.
func (b *InboxBatcher) commitLoop(answers *sync.WaitGroup) {
	var carry *insertCall // took a batch over MaxRows: first of the next one
	for {
		var (
			batch []*insertCall
			rows  int
		)
		if carry != nil {
			batch, rows, carry = append(batch, carry), len(carry.entries), nil
		} else {
			c, ok := <-b.calls
			if !ok {
				return
			}
			batch, rows = append(batch, c), len(c.entries)
		}
	take:
		for rows < b.p.MaxRows {
			select {
			case c, ok := <-b.calls:
				if !ok {
					break take // closing: commit this one, and the next receive ends the loop
				}
				if rows+len(c.entries) > b.p.MaxRows {
					carry = c
					break take
				}
				batch, rows = append(batch, c), rows+len(c.entries)
			default:
				break take
			}
		}
		b.waiting.Add(-int64(len(batch)))
		settled := b.settle(batch, true, nil)
		answers.Go(func() { b.answer(settled) })
	}
}

// answer queues the tasks of what a batch stored (Queue) and answers each of
// its callers.
func (b *InboxBatcher) answer(settled []settledCall) {
	if b.p.Queue != nil {
		b.queue(settled)
	}
	for _, c := range settled {
		c.call.done <- c.out
	}
}

// settledCall is a call's outcome, not yet sent to it.
type settledCall struct {
	call *insertCall
	out  insertOutcome
}

// queue hands the entries the calls stored to Queue, all in one call, and marks
// their results Queued: it is done, or left to the sweeper.
func (b *InboxBatcher) queue(settled []settledCall) {
	n := 0
	for _, c := range settled {
		n += len(c.out.results)
	}
	entries, results := make([]domain.InboxEntry, 0, n), make([]domain.InsertResult, 0, n)
	for i := range settled {
		out := &settled[i].out
		if out.err != nil {
			continue
		}
		for j := range out.results {
			out.results[j].Queued = true
		}
		entries, results = append(entries, settled[i].call.entries...), append(results, out.results...)
	}
	if len(entries) == 0 {
		return
	}
	if err := b.p.Queue.EnqueueCommitted(b.flushCtx, entries, results); err != nil {
		b.warn.Warn(b.flushCtx, "enqueue", "could not queue stored webhooks; the sweeper will queue them",
			slog.Int("entries", len(entries)), slog.String("error", err.Error()))
	}
}

// settle commits calls in one statement and appends the outcome of each to
// settled, which it returns. When that statement fails for a reason of its own
// (PostgreSQL answered with an error, as it does for a value it cannot store),
// the calls are committed again in halves, and so on, so that only the call at
// fault is answered with the error: one
// unstorable request costs its batch about 2·log₂(calls) more statements, never
// the other callers' webhooks. When PostgreSQL cannot be reached, every caller
// is answered with that at once: splitting would only wait longer for the same
// answer.
func (b *InboxBatcher) settle(calls []*insertCall, top bool, settled []settledCall) []settledCall {
	live := make([]*insertCall, 0, len(calls))
	var entries []domain.InboxEntry
	for _, c := range calls {
		if c.ctx.Err() != nil {
			continue // the caller has given up and been answered with an error
		}
		live = append(live, c)
		entries = append(entries, c.entries...)
	}
	if len(live) == 0 {
		return settled
	}
	results, err := b.commit(entries)
	if err != nil && len(live) > 1 && b.splittable(err) {
		if top {
			b.p.Logger.Warn("inbox batch failed; committing its calls apart to find the one at fault",
				slog.Int("calls", len(live)), slog.Int("rows", len(entries)), slog.String("error", err.Error()))
		}
		mid := len(live) / 2
		settled = b.settle(live[:mid], false, settled)
		return b.settle(live[mid:], false, settled)
	}
	if err != nil {
		err = storeError(err)
		b.p.Logger.Warn("inbox insert failed; its callers are answered with the error",
			slog.Int("calls", len(live)), slog.Int("rows", len(entries)), slog.String("error", err.Error()))
	}
	for _, c := range live {
		if err != nil {
			settled = append(settled, settledCall{c, insertOutcome{err: err}})
			continue
		}
		n := len(c.entries)
		settled = append(settled, settledCall{c, insertOutcome{results: results[:n:n]}})
		results = results[n:]
	}
	return settled
}

// splittable reports whether a failed batch statement is worth retrying in
// parts: the database answered (the failure is the statement's own), and the
// batcher is not being cancelled.
func (b *InboxBatcher) splittable(err error) bool {
	return b.flushCtx.Err() == nil && domain.ErrorCode(err) != domain.EUNAVAILABLE
}

// storeError translates the failure of an insert: a value PostgreSQL cannot
// store (SQLSTATE class 22, data exception, e.g. a NUL byte or invalid UTF-8; or
// 54000, e.g. an index row over its size limit) is EINVALID with reason
// unstorable, for the sender to fix; anything else is returned as it is.
func storeError(err error) error {
	var pe *pq.Error
	if !errors.As(err, &pe) || (pe.Code.Class() != "22" && pe.Code != "54000") {
		return err
	}
	return &domain.Error{Code: domain.EINVALID, Reason: domain.CauseUnstorable, Err: err,
		Message: fmt.Sprintf("PostgreSQL cannot store this webhook as it is (%s, SQLSTATE %s); nothing was stored, and retrying the same request will not help",
			truncate(pe.Message, 200), pe.Code)}
}

// commit inserts entries with one statement, its own transaction: one INSERT
// and its COMMIT (plus, when some entries were already stored, one SELECT for
// their ids). Deferred constraints are checked at that COMMIT, and a failure
// there fails the statement, so the batch. The statement is prepared once per
// connection: a batch costs one round trip, without parsing or planning.
func (b *InboxBatcher) commit(entries []domain.InboxEntry) ([]domain.InsertResult, error) {
	ctx := b.flushCtx
	stmt, err := b.prepared(ctx)
	if err != nil {
		return nil, err
	}
	return insertEntries(ctx, b.Inbox.DB, stmt.QueryxContext, entries)
}

// prepared returns the prepared insertSQL, preparing it on first use (or again
// after a failure to).
func (b *InboxBatcher) prepared(ctx context.Context) (*sqlx.Stmt, error) {
	b.stmtMu.Lock()
	defer b.stmtMu.Unlock()
	if b.stmt != nil {
		return b.stmt, nil
	}
	stmt, err := b.Inbox.DB.PreparexContext(ctx, insertSQL)
	if err != nil {
		return nil, translate("inbox insert: prepare", err)
	}
	b.stmt = stmt
	return stmt, nil
}

// BeginAttempts is BeginAttempt for many entries in one statement: it counts an
// attempt at each entry of ids still received and returns those entries, in id
// order. Entries settled already (applied, ignored, failed, rejected) and ids
// with no entry are left out: there is nothing to attempt.
//
// The rows are found by id alone and locked in id order, as the apply's claim
// locks them; their status is tested once locked. A status test beside the ids
// would let the planner pick the status index, whose 'received' entries are
// mostly dead (every row was received once): 130 buffers read instead of 20,
// 0.9 ms instead of 0.2 ms for a batch of four.
func (s *Inbox) BeginAttempts(ctx context.Context, ids []int64) ([]domain.InboxEntry, error) {
	var rows []inboxRow
	stmt, err := s.stmts.get(ctx, s.DB, `
		WITH locked AS MATERIALIZED (
			SELECT id AS locked_id, status = 'received' AS open FROM inbox WHERE id = ANY($1) ORDER BY id FOR UPDATE)
		UPDATE inbox SET attempts = attempts + 1 FROM locked WHERE id = locked.locked_id AND locked.open
		RETURNING `+inboxColumns)
	if err == nil {
		err = stmt.SelectContext(ctx, &rows, pq.Int64Array(ids))
	}
	if err != nil {
		return nil, translate("inbox entries: begin attempts", err)
	}
	out := make([]domain.InboxEntry, 0, len(rows))
	for _, r := range rows {
		e, err := r.entry()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b domain.InboxEntry) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
