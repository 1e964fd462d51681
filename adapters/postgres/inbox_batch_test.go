package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// inboxTestDB returns a migrated, empty database for an inbox test.
func inboxTestDB(t *testing.T) *sqlx.DB {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, testenv.DatabaseURL(t), 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mg, err := postgres.Migrator(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mg.Up(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func startBatcher(t *testing.T, db *sqlx.DB, p postgres.InboxBatcherParams) *postgres.InboxBatcher {
	t.Helper()
	p.Inbox = &postgres.Inbox{DB: db}
	b := postgres.NewInboxBatcher(p)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	return b
}

func entry(source, eventID string) domain.InboxEntry {
	return domain.InboxEntry{
		Source: source, Provider: "stripe", EventID: eventID, EventType: "payment_intent.succeeded",
		Body: []byte(`{"id":"` + eventID + `"}`), ReceivedAt: time.Now(), Status: domain.InboxReceived,
	}
}

func rowCount(t *testing.T, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestInboxContract runs domain.Inbox's Insert contract against the plain inbox
// and the group-committing one.
func TestInboxContract(t *testing.T) {
	t.Parallel()
	impls := []struct {
		name string
		new  func(t *testing.T, db *sqlx.DB) domain.Inbox
	}{
		{"Inbox", func(_ *testing.T, db *sqlx.DB) domain.Inbox { return &postgres.Inbox{DB: db} }},
		{"InboxBatcher", func(t *testing.T, db *sqlx.DB) domain.Inbox {
			return startBatcher(t, db, postgres.InboxBatcherParams{})
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			db := inboxTestDB(t)
			inbox := impl.new(t, db)
			ctx := context.Background()

			first, err := inbox.Insert(ctx, []domain.InboxEntry{entry("s1", "evt_b"), entry("s1", "evt_a"), entry("s1", "evt_b"), entry("s2", "evt_a")})
			if err != nil {
				t.Fatal(err)
			}
			if !first[0].New || !first[1].New || first[2].New || !first[3].New {
				t.Errorf("new flags = %+v, want new, new, duplicate (repeat within the call), new", first)
			}
			if first[2].ID != first[0].ID || first[3].ID == first[1].ID {
				t.Errorf("ids = %+v: a repeat must name the first row, another source its own", first)
			}
			again, err := inbox.Insert(ctx, []domain.InboxEntry{entry("s1", "evt_a"), entry("s1", "evt_c")})
			if err != nil {
				t.Fatal(err)
			}
			if want := []domain.InsertResult{{ID: first[1].ID}, {ID: again[1].ID, New: true}}; !cmp.Equal(want, again) {
				t.Errorf("second insert (-want +got):\n%s", cmp.Diff(want, again))
			}
			got, err := inbox.Get(ctx, first[0].ID)
			if err != nil || got.EventID != "evt_b" || got.Source != "s1" {
				t.Errorf("Get(%d) = %+v, %v", first[0].ID, got, err)
			}
			if n := rowCount(t, db, `SELECT count(*) FROM inbox`); n != 4 {
				t.Errorf("rows = %d, want 4", n)
			}
			if res, err := inbox.Insert(ctx, nil); err != nil || len(res) != 0 {
				t.Errorf("Insert(nil) = %v, %v", res, err)
			}
		})
	}
}

// TestInboxBatcherConcurrentCallersGetTheirOwnResults: many callers insert
// overlapping events at once, repeats within a call included. Every event is
// stored once, exactly one caller is told it is new, and every caller's ids are
// the stored rows' ids.
func TestInboxBatcherConcurrentCallersGetTheirOwnResults(t *testing.T) {
	t.Parallel()
	db := inboxTestDB(t)
	b := startBatcher(t, db, postgres.InboxBatcherParams{MaxRows: 16, MaxInFlight: 3})

	const callers, events = 300, 120
	type call struct {
		entries []domain.InboxEntry
		results []domain.InsertResult
		err     error
	}
	calls := make([]call, callers)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range calls {
		for range 1 + rng.IntN(4) { // 1-4 entries, sometimes the same one twice
			calls[i].entries = append(calls[i].entries, entry("src", fmt.Sprintf("evt_%03d", rng.IntN(events))))
		}
	}
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			calls[i].results, calls[i].err = b.Insert(context.Background(), calls[i].entries)
		})
	}
	wg.Wait()

	var stored []struct {
		ID      int64  `db:"id"`
		EventID string `db:"event_id"`
	}
	if err := db.Select(&stored, `SELECT id, event_id FROM inbox`); err != nil {
		t.Fatal(err)
	}
	idOf := map[string]int64{}
	for _, r := range stored {
		idOf[r.EventID] = r.ID
	}
	newCount := map[string]int{}
	seen := map[string]bool{}
	for i, c := range calls {
		if c.err != nil {
			t.Fatalf("call %d: %v", i, c.err)
		}
		if len(c.results) != len(c.entries) {
			t.Fatalf("call %d: %d results for %d entries", i, len(c.results), len(c.entries))
		}
		for j, r := range c.results {
			ev := c.entries[j].EventID
			seen[ev] = true
			if r.ID != idOf[ev] {
				t.Errorf("call %d entry %d (%s): id %d, stored as %d", i, j, ev, r.ID, idOf[ev])
			}
			if r.New {
				newCount[ev]++
			}
		}
	}
	if len(stored) != len(seen) {
		t.Errorf("stored %d rows for %d distinct events", len(stored), len(seen))
	}
	for ev := range seen {
		if newCount[ev] != 1 {
			t.Errorf("%s was reported new %d times, want exactly once", ev, newCount[ev])
		}
	}
}

// gate blocks every insert into the inbox, from another connection, until
// opened: the batch that runs into it holds its commit slot, and the callers
// that come meanwhile collect into the next batch.
type gate struct {
	tx *sqlx.Tx
}

func closeGate(t *testing.T, db *sqlx.DB) *gate {
	t.Helper()
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`LOCK TABLE inbox IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	return &gate{tx: tx}
}

func (g *gate) open(t *testing.T) {
	t.Helper()
	if err := g.tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

// waitBlocked waits until an INSERT into the inbox waits on the gate's lock.
func waitBlocked(t *testing.T, db *sqlx.DB) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		n := rowCount(t, db, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO inbox%'`)
		return n > 0, "an inbox INSERT waiting on the gate"
	})
}

type outcome struct {
	res []domain.InsertResult
	err error
}

func insertAsync(b *postgres.InboxBatcher, ctx context.Context, entries ...domain.InboxEntry) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := b.Insert(ctx, entries)
		ch <- outcome{res, err}
	}()
	return ch
}

// failAtCommit installs a deferred constraint trigger that raises at COMMIT for
// any event id starting with evt_fail: a commit that fails after the INSERT itself
// has succeeded.
func failAtCommit(t *testing.T, db *sqlx.DB) {
	t.Helper()
	for _, q := range []string{
		`CREATE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.event_id LIKE 'evt_fail%' THEN
				RAISE EXCEPTION 'injected commit failure for %', NEW.event_id;
			END IF;
			RETURN NULL;
		END $$`,
		`CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT ON inbox
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit()`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInboxBatcherFailedCommitFailsOnlyTheCallAtFault: when the commit of a
// batch fails, its calls are committed again apart: the call whose entry makes
// COMMIT fail is answered with an error and none of its rows exists (not even its
// good entry), every other caller of the batch is stored and told so.
func TestInboxBatcherFailedCommitFailsOnlyTheCallAtFault(t *testing.T) {
	t.Parallel()
	db := inboxTestDB(t)
	failAtCommit(t, db)
	b := startBatcher(t, db, postgres.InboxBatcherParams{MaxInFlight: 1})
	ctx := context.Background()

	g := closeGate(t, db)
	first := insertAsync(b, ctx, entry("src", "evt_first"))
	waitBlocked(t, db) // the first batch holds the only commit slot
	var batch []<-chan outcome
	for i := range 8 {
		batch = append(batch, insertAsync(b, ctx, entry("src", fmt.Sprintf("evt_ok_%d", i))))
	}
	faulty := len(batch)
	batch = append(batch, insertAsync(b, ctx, entry("src", "evt_fail_marker"), entry("src", "evt_ok_with_marker")))
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return b.Waiting() == len(batch), fmt.Sprintf("%d calls waiting for the next batch (now %d)", len(batch), b.Waiting())
	})
	g.open(t)

	if o := <-first; o.err != nil || !o.res[0].New {
		t.Fatalf("the first batch, without the marker: %+v, %v; want it stored", o.res, o.err)
	}
	for i, ch := range batch {
		o := <-ch
		switch {
		case i == faulty && o.err == nil:
			t.Errorf("the caller whose entry fails at commit was answered %+v without an error", o.res)
		case i == faulty && domain.ErrorCode(o.err) == domain.EINVALID:
			t.Errorf("a failure that is not a data error = %v; want it not answered as the sender's fault", o.err)
		case i != faulty && (o.err != nil || len(o.res) != 1 || !o.res[0].New):
			t.Errorf("caller %d, in the same batch as the faulty one: %+v, %v; want its entry stored", i, o.res, o.err)
		}
	}
	if n := rowCount(t, db, `SELECT count(*) FROM inbox`); n != 1+8 {
		t.Errorf("rows = %d, want the first batch's 1 and the 8 good callers'", n)
	}
	if n := rowCount(t, db, `SELECT count(*) FROM inbox WHERE event_id IN ('evt_fail_marker', 'evt_ok_with_marker')`); n != 0 {
		t.Errorf("rows of the faulty call = %d, want none: a call is stored whole or not at all", n)
	}
}

// TestInboxBatcherUnstorableValueFailsOnlyItsCaller: entries that bypassed
// domain validation and that PostgreSQL refuses (a NUL byte in text, an event id
// over the index row limit) fail their own call with EINVALID unstorable, never
// the webhooks they shared a batch with.
func TestInboxBatcherUnstorableValueFailsOnlyItsCaller(t *testing.T) {
	t.Parallel()
	db := inboxTestDB(t)
	b := startBatcher(t, db, postgres.InboxBatcherParams{MaxInFlight: 1})
	ctx := context.Background()

	nul := entry("src", "evt_nul\x00")
	long := entry("src", "evt_"+incompressible(3000)) // PostgreSQL compresses a repetitive key below the limit
	for _, e := range []domain.InboxEntry{nul, long} {
		if e.Validate() == nil {
			t.Fatalf("entry %.20q passes Validate; the test needs one that only PostgreSQL refuses", e.EventID)
		}
	}
	g := closeGate(t, db)
	first := insertAsync(b, ctx, entry("src", "evt_first"))
	waitBlocked(t, db)
	var good []<-chan outcome
	for i := range 6 {
		good = append(good, insertAsync(b, ctx, entry("src", fmt.Sprintf("evt_good_%d", i))))
	}
	bad := []<-chan outcome{insertAsync(b, ctx, nul), insertAsync(b, ctx, long)}
	for i := range 6 {
		good = append(good, insertAsync(b, ctx, entry("src", fmt.Sprintf("evt_good_%d", 6+i))))
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return b.Waiting() == len(good)+len(bad), fmt.Sprintf("%d calls waiting for the next batch (now %d)", len(good)+len(bad), b.Waiting())
	})
	g.open(t)

	if o := <-first; o.err != nil {
		t.Fatalf("first: %v", o.err)
	}
	for i, ch := range good {
		if o := <-ch; o.err != nil || !o.res[0].New {
			t.Errorf("good caller %d: %+v, %v; want it stored", i, o.res, o.err)
		}
	}
	for i, ch := range bad {
		o := <-ch
		if domain.ErrorCode(o.err) != domain.EINVALID || domain.ErrorReason(o.err) != domain.CauseUnstorable {
			t.Errorf("unstorable caller %d: %v; want EINVALID with reason unstorable", i, o.err)
		}
	}
	if n := rowCount(t, db, `SELECT count(*) FROM inbox`); n != 1+len(good) {
		t.Errorf("rows = %d, want %d: every good entry and no bad one", n, 1+len(good))
	}
}

// incompressible returns n random letters.
func incompressible(n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteByte(byte('a' + rand.IntN(26)))
	}
	return sb.String()
}

// TestInboxBatcherCallerGivingUp: a caller whose context ends while it waits is
// answered with the context's error, its entries are not stored, and the other
// callers of its batch are not affected.
func TestInboxBatcherCallerGivingUp(t *testing.T) {
	t.Parallel()
	db := inboxTestDB(t)
	b := startBatcher(t, db, postgres.InboxBatcherParams{MaxInFlight: 1})

	g := closeGate(t, db)
	first := insertAsync(b, context.Background(), entry("src", "evt_first"))
	waitBlocked(t, db)
	gone, cancel := context.WithCancel(context.Background())
	impatient := insertAsync(b, gone, entry("src", "evt_impatient"))
	patient := insertAsync(b, context.Background(), entry("src", "evt_patient"))
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { return b.Waiting() == 2, "two calls waiting" })
	cancel()
	if o := <-impatient; !errors.Is(o.err, context.Canceled) {
		t.Errorf("cancelled caller: %+v, %v; want context.Canceled", o.res, o.err)
	}
	g.open(t)
	for _, ch := range []<-chan outcome{first, patient} {
		if o := <-ch; o.err != nil {
			t.Errorf("insert: %v", o.err)
		}
	}
	if n := rowCount(t, db, `SELECT count(*) FROM inbox WHERE event_id = 'evt_impatient'`); n != 0 {
		t.Errorf("the cancelled caller's entry was stored")
	}
	if n := rowCount(t, db, `SELECT count(*) FROM inbox`); n != 2 {
		t.Errorf("rows = %d, want 2", n)
	}
}

// TestInboxBatcherShutdownCommitsWhatItAccepted: Shutdown lets the accepted calls
// commit and be answered, then refuses new ones as unavailable.
func TestInboxBatcherShutdownCommitsWhatItAccepted(t *testing.T) {
	t.Parallel()
	db := inboxTestDB(t)
	b := startBatcher(t, db, postgres.InboxBatcherParams{MaxInFlight: 1})

	g := closeGate(t, db)
	var calls []<-chan outcome
	calls = append(calls, insertAsync(b, context.Background(), entry("src", "evt_0")))
	waitBlocked(t, db)
	for i := 1; i <= 5; i++ {
		calls = append(calls, insertAsync(b, context.Background(), entry("src", fmt.Sprintf("evt_%d", i))))
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { return b.Waiting() == 5, "five calls waiting" })
	stopped := make(chan error, 1)
	go func() { stopped <- b.Shutdown(context.Background()) }()
	g.open(t)
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if n := rowCount(t, db, `SELECT count(*) FROM inbox`); n != 6 {
		t.Errorf("rows when Shutdown returned = %d, want the 6 accepted before it", n)
	}
	for i, ch := range calls {
		if o := <-ch; o.err != nil {
			t.Errorf("call %d, accepted before Shutdown: %v", i, o.err)
		}
	}
	if _, err := b.Insert(context.Background(), []domain.InboxEntry{entry("src", "evt_late")}); domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Errorf("Insert after Shutdown: %v, want EUNAVAILABLE", err)
	}
}

// TestInboxBatcherShutdownHonoursItsContext: when Shutdown's context has ended, a
// batch stuck in PostgreSQL is cancelled: Shutdown returns the context's error,
// and the caller gets an error and no row.
func TestInboxBatcherShutdownHonoursItsContext(t *testing.T) {
	t.Parallel()
	db := inboxTestDB(t)
	b := startBatcher(t, db, postgres.InboxBatcherParams{MaxInFlight: 1})

	g := closeGate(t, db)
	stuck := insertAsync(b, context.Background(), entry("src", "evt_stuck"))
	waitBlocked(t, db)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Shutdown(ended); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with an ended context = %v, want context.Canceled", err)
	}
	if o := <-stuck; o.err == nil {
		t.Errorf("the cancelled batch's caller was answered %+v without an error", o.res)
	}
	g.open(t)
	if n := rowCount(t, db, `SELECT count(*) FROM inbox`); n != 0 {
		t.Errorf("rows = %d, want 0", n)
	}
}

// commitQueue records what the batcher hands it; err is its answer.
type commitQueue struct {
	mu      sync.Mutex
	commits [][]string // event ids of each call
	err     error
}

func (q *commitQueue) EnqueueCommitted(_ context.Context, entries []domain.InboxEntry, results []domain.InsertResult) error {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.EventID
		if results[i].ID == 0 {
			ids[i] += " (no id)"
		}
	}
	q.mu.Lock()
	q.commits = append(q.commits, ids)
	q.mu.Unlock()
	return q.err
}

// TestInboxBatcherQueuesEachCommitOnce: the calls of one commit are handed to
// the queue in one call, before any of them is answered, and their results say
// Queued so the ingress queues nothing more. When the queue fails, the callers
// are still answered (the rows are committed; the sweeper queues them), and one
// warning is written.
func TestInboxBatcherQueuesEachCommitOnce(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("queue fails=%v", fail), func(t *testing.T) {
			db := inboxTestDB(t)
			q := &commitQueue{}
			if fail {
				q.err = domain.Errorf(domain.EUNAVAILABLE, "redis is down")
			}
			var logs strings.Builder
			var logMu sync.Mutex
			logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
				logMu.Lock()
				defer logMu.Unlock()
				return logs.Write(p)
			}), nil))
			b := startBatcher(t, db, postgres.InboxBatcherParams{MaxInFlight: 1, Queue: q, Logger: logger})
			g := closeGate(t, db)
			first := insertAsync(b, context.Background(), entry("s", fmt.Sprintf("evt_q%v_0", fail)))
			waitBlocked(t, db)
			// While the first commit waits, three calls collect into the next.
			var rest []<-chan outcome
			for i := 1; i <= 3; i++ {
				rest = append(rest, insertAsync(b, context.Background(), entry("s", fmt.Sprintf("evt_q%v_%d", fail, i))))
			}
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				return b.Waiting() == 3, fmt.Sprintf("%d calls wait for the next commit, want 3", b.Waiting())
			})
			g.open(t)
			for _, ch := range append([]<-chan outcome{first}, rest...) {
				o := <-ch
				if o.err != nil || len(o.res) != 1 || !o.res[0].New || !o.res[0].Queued {
					t.Fatalf("insert: %+v, %v; want one new result, queued", o.res, o.err)
				}
			}
			q.mu.Lock()
			defer q.mu.Unlock()
			if len(q.commits) != 2 || len(q.commits[0]) != 1 || len(q.commits[1]) != 3 {
				t.Fatalf("queue calls %v, want one per commit: [1 entry] then [3 entries]", q.commits)
			}
			logMu.Lock()
			defer logMu.Unlock()
			want := 0
			if fail {
				want = 1
			}
			if n := strings.Count(logs.String(), "the sweeper will queue them"); n != want {
				t.Errorf("%d warnings for a failing queue, want %d:\n%s", n, want, logs.String())
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// stallingQueue holds its first call until release is closed; later calls
// return at once.
type stallingQueue struct {
	calls   atomic.Int64
	release chan struct{}
}

func (q *stallingQueue) EnqueueCommitted(ctx context.Context, _ []domain.InboxEntry, _ []domain.InsertResult) error {
	if q.calls.Add(1) == 1 {
		select {
		case <-q.release:
		case <-ctx.Done():
		}
	}
	return nil
}

// TestInboxBatcherCommitsWhileTheLastCommitIsQueued: the commit loop does not
// wait for a commit's enqueue. While the first commit's queue call hangs (a slow
// Redis), the next call is committed, queued and answered; the first caller is
// answered only once its own queue call returns.
func TestInboxBatcherCommitsWhileTheLastCommitIsQueued(t *testing.T) {
	db := inboxTestDB(t)
	q := &stallingQueue{release: make(chan struct{})}
	b := startBatcher(t, db, postgres.InboxBatcherParams{Queue: q})
	first := insertAsync(b, context.Background(), entry("s", "evt_stall_0"))
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return q.calls.Load() == 1, "the first commit's queue call has not started"
	})
	second := insertAsync(b, context.Background(), entry("s", "evt_stall_1"))
	select {
	case o := <-second:
		if o.err != nil || len(o.res) != 1 || !o.res[0].New || !o.res[0].Queued {
			t.Fatalf("second insert: %+v, %v; want one new result, queued", o.res, o.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second call was not answered while the first commit's queue call hung")
	}
	select {
	case o := <-first:
		t.Fatalf("the first call was answered (%+v, %v) before its queue call returned", o.res, o.err)
	default:
	}
	close(q.release)
	if o := <-first; o.err != nil || len(o.res) != 1 || !o.res[0].New {
		t.Fatalf("first insert: %+v, %v; want one new result", o.res, o.err)
	}
}
