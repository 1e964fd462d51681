package domain

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Inbox statuses.
const (
	InboxReceived = "received" // committed, waiting to be applied
	InboxApplied  = "applied"
	InboxIgnored  = "ignored"  // an event type Tradewind does not handle
	InboxFailed   = "failed"   // could not be applied; ops may replay it
	InboxRejected = "rejected" // the provider did not confirm it; never applied
)

// Rejection causes, recorded for every refused request.
const (
	CauseVerificationFailed = "verification_failed"
	CauseUnparsable         = "unparsable"
	CausePayloadTooLarge    = "payload_too_large"
	CauseUnknownSource      = "unknown_source"
	CauseRateLimited        = "rate_limited"
	CauseOverloaded         = "overloaded"
	CauseNotConfirmed       = "not_confirmed"
	// CauseUnstorable is a delivery whose message the inbox cannot hold as it is:
	// a NUL byte or invalid UTF-8 in a text field, or a field over its length.
	CauseUnstorable = "unstorable"
)

// Limits on the text an inbox entry holds. The (source, event id) key is indexed,
// and PostgreSQL refuses an index row over ~2.7 KB; no provider's event id comes
// near 255 bytes.
const (
	MaxEventIDBytes   = 255
	MaxEventTypeBytes = 255
)

// InboxEntry is one accepted webhook message, stored before it is acknowledged.
type InboxEntry struct {
	ID          int64
	Source      string
	Provider    string
	EventID     string // the dedupe key; unique per source
	EventType   string
	Header      http.Header
	Body        []byte
	OccurredAt  time.Time
	ReceivedAt  time.Time
	Status      string
	Attempts    int
	LastError   string
	Unconfirmed bool
	// OrderRef is the order the entry names: read from the body at ingress
	// (OrderRefHint, unverified) or from its applied events (verified).
	OrderRef         string
	OrderRefVerified bool
}

// Message returns the provider message stored in the entry.
func (e InboxEntry) Message() Message {
	return Message{ID: e.EventID, Type: e.EventType, OccurredAt: e.OccurredAt, Payload: e.Body, Unconfirmed: e.Unconfirmed}
}

// Validate reports whether e can be stored as it is. PostgreSQL text cannot hold a
// NUL byte or invalid UTF-8, and jsonb (the headers) refuses the \u0000 escape too;
// a NUL can arrive in any unsigned request, so it is checked here, before the
// entry shares a commit with others. Returns EINVALID with reason unstorable,
// naming the field and what would be valid.
func (e InboxEntry) Validate() error {
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"source", e.Source, 64},
		{"provider", e.Provider, 64},
		{"event id", e.EventID, MaxEventIDBytes},
		{"event type", e.EventType, MaxEventTypeBytes},
	} {
		if err := storableText(f.name, f.value, f.max); err != nil {
			return err
		}
	}
	if e.EventID == "" {
		return unstorable("the message has no event id; it is the dedupe key and must not be empty")
	}
	for k, vs := range e.Header {
		if strings.IndexByte(k, 0) >= 0 {
			return unstorable("a header name contains a NUL byte, which cannot be stored; remove it")
		}
		for _, v := range vs {
			if strings.IndexByte(v, 0) >= 0 {
				return unstorable(fmt.Sprintf("header %.64q contains a NUL byte, which cannot be stored; remove it", k))
			}
		}
	}
	return nil
}

func storableText(name, v string, maxBytes int) error {
	switch {
	case len(v) > maxBytes:
		return unstorable(fmt.Sprintf("the %s is %d bytes, over the %d-byte limit", name, len(v), maxBytes))
	case strings.IndexByte(v, 0) >= 0:
		return unstorable(fmt.Sprintf("the %s contains a NUL byte (\\u0000), which cannot be stored; remove it", name))
	case !utf8.ValidString(v):
		return unstorable(fmt.Sprintf("the %s is not valid UTF-8", name))
	}
	return nil
}

func unstorable(msg string) error {
	return &Error{Code: EINVALID, Reason: CauseUnstorable, Message: msg + "; nothing was stored"}
}

// Rejection is a refused webhook request. It never holds a secret or the body.
type Rejection struct {
	ID         int64
	Source     string
	Cause      string
	Detail     string
	RemoteAddr string
	ReceivedAt time.Time
	InboxID    int64 // set when a stored message was later rejected
	// OrderRef is the order the refused body seems to name (OrderRefHint): never
	// verified, shown to ops so that "the customer says they paid" finds it.
	OrderRef string
}

// Inbox stores accepted webhooks durably.
type Inbox interface {
	// Insert stores entries in one commit. It returns, per entry in order, the
	// row's id and whether it was new; an entry whose (source, event id) is already
	// stored is a duplicate and changes nothing. Returns EUNAVAILABLE when the
	// database cannot be reached.
	Insert(ctx context.Context, entries []InboxEntry) ([]InsertResult, error)

	// Get returns one entry. Returns ENOTFOUND if there is none.
	Get(ctx context.Context, id int64) (InboxEntry, error)

	// Pending returns entries still received and received before the given
	// time, with ids above afterID, in id order, at most limit: a page of what
	// the sweeper may have to queue again.
	Pending(ctx context.Context, before time.Time, afterID int64, limit int) ([]PendingEntry, error)

	// BeginAttempt counts an attempt at applying a received entry, in a statement
	// of its own (the count survives a crash or a rollback of the attempt), and
	// returns the entry with Attempts including this one. An entry that is no
	// longer received is returned as it is, its attempts not counted. Returns
	// ENOTFOUND if there is none.
	BeginAttempt(ctx context.Context, id int64) (InboxEntry, error)

	// CancelAttempt takes back BeginAttempt's count for an attempt that was
	// postponed before it did anything.
	CancelAttempt(ctx context.Context, id int64) error

	// MarkAttempt records how an attempt at applying an entry ended: still
	// received (it will be retried) with the error, or final — failed, or
	// rejected when the provider did not confirm the message.
	MarkAttempt(ctx context.Context, id int64, status string, lastErr string) error

	// Reject records a refused request.
	Reject(ctx context.Context, r Rejection) error
}

// PendingEntry is an entry the sweeper may have to queue: its id and the
// provider whose webhooks it holds (which decides its queue).
type PendingEntry struct {
	ID       int64
	Provider string
}

// InsertResult says what Insert did with one entry.
type InsertResult struct {
	ID  int64
	New bool
	// Queued: the inbox handed the entry's task to the queue with its commit
	// (CommitQueue), or left it to the sweeper when the queue failed. The
	// caller has nothing more to queue.
	Queued bool
}

// Applier applies normalized events to orders, payments and stock.
type Applier interface {
	// ApplyEntry applies a stored entry's events in one transaction that also
	// records each event as applied and marks the entry applied: running it twice
	// changes nothing the second time.
	ApplyEntry(ctx context.Context, entryID int64, events []Event) error
}

// InboxFilter selects inbox entries; empty fields match everything.
type InboxFilter struct {
	Source string
	Status string
	Limit  int
	// BeforeID pages backwards: only entries with a smaller id.
	BeforeID int64
	// EventType and EventID match exactly; Since and Until bound received_at.
	EventType, EventID string
	Since, Until       time.Time
}

// InboxBrowser lets ops look at and replay stored webhooks.
type InboxBrowser interface {
	// List returns entries, newest first, without their bodies.
	List(ctx context.Context, f InboxFilter) ([]InboxEntry, error)
	// Get returns one entry with its headers and body. Returns ENOTFOUND if there is none.
	Get(ctx context.Context, id int64) (InboxEntry, error)
	// Requeue puts a failed, rejected, ignored or stuck entry back to received so it
	// is applied again, its attempts counted from zero. Returns ENOTFOUND if there
	// is none and ECONFLICT if it is already applied (replaying it would change
	// nothing).
	Requeue(ctx context.Context, id int64) (InboxEntry, error)
	// CountByStatus returns how many entries were received at or after since, per status.
	CountByStatus(ctx context.Context, since time.Time) (map[string]int, error)
	// Rejections returns the newest refused requests, newest first, at most limit.
	Rejections(ctx context.Context, limit int) ([]Rejection, error)
}
