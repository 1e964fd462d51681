package jobs

import (
	"context"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// AttemptInbox is an inbox that can count attempts at many entries in one
// statement (postgres.Inbox).
type AttemptInbox interface {
	domain.Inbox
	BatchAttempts
}

// AttemptBatcher is the inbox of ProcessWebhook with a group BeginAttempt: the
// single-entry tasks starting at once have their attempts counted together, in
// one statement and one commit (BatchAttempts), instead of a commit each. Each
// count is still committed before its own attempt starts, so an attempt that
// dies with its worker is still counted. Every other method is the inbox's own.
//
// It adds no wait (see lanes): a task that finds a lane free counts its attempt
// at once. Two tasks of the same entry in one batch (which task ids make rare)
// count one attempt between them.
type AttemptBatcher struct {
	AttemptInbox
	// MaxBatch bounds the entries of one statement (DefaultAttemptBatch when 0).
	MaxBatch int
	// MaxInFlight bounds the statements running at once (DefaultAttemptLanes when 0).
	MaxInFlight int
	// Timeout bounds one statement (DefaultAttemptTimeout when 0).
	Timeout time.Duration

	lanes lanes[*attemptRequest]
}

// Defaults of AttemptBatcher.
const (
	DefaultAttemptBatch   = 64
	DefaultAttemptLanes   = 2
	DefaultAttemptTimeout = 30 * time.Second
)

var _ domain.Inbox = (*AttemptBatcher)(nil)

type attemptRequest struct {
	id   int64
	done chan attemptOutcome // buffered: the batch never waits for its task
}

type attemptOutcome struct {
	entry domain.InboxEntry
	err   error
}

// BeginAttempt implements domain.Inbox, with the attempts of concurrent calls
// counted in one statement.
func (b *AttemptBatcher) BeginAttempt(ctx context.Context, id int64) (domain.InboxEntry, error) {
	r := &attemptRequest{id: id, done: make(chan attemptOutcome, 1)}
	b.lanes.add([]*attemptRequest{r}, orDefault(b.MaxInFlight, DefaultAttemptLanes), orDefault(b.MaxBatch, DefaultAttemptBatch), b.begin)
	select {
	case out := <-r.done:
		return out.entry, out.err
	case <-ctx.Done():
		return domain.InboxEntry{}, ctx.Err()
	}
}

// Queued returns how many attempts wait for a lane.
func (b *AttemptBatcher) Queued() int { return b.lanes.queued() }

// begin counts a batch's attempts and answers each request: an entry still
// received with its attempt counted; any other as it is (Get), or ENOTFOUND.
func (b *AttemptBatcher) begin(batch []*attemptRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), orDefault(b.Timeout, DefaultAttemptTimeout))
	defer cancel()
	ids := make([]int64, 0, len(batch))
	for _, r := range batch {
		ids = append(ids, r.id)
	}
	entries, err := b.BeginAttempts(ctx, ids)
	begun := make(map[int64]domain.InboxEntry, len(entries))
	for _, e := range entries {
		begun[e.ID] = e
	}
	for _, r := range batch {
		var out attemptOutcome
		switch e, ok := begun[r.id]; {
		case err != nil:
			out.err = err
		case ok:
			out.entry = e
		default: // settled already, or no such entry: nothing to attempt
			out.entry, out.err = b.Get(ctx, r.id)
		}
		r.done <- out
	}
}
