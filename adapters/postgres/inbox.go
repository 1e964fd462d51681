package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// Inbox is the PostgreSQL inbox of accepted webhooks.
type Inbox struct {
	DB *sqlx.DB // from Open: Insert sends binary array parameters (binaryArray)

	stmts statements // Get's statement, prepared once per connection: every task reads its entry
}

var _ domain.Inbox = (*Inbox)(nil)

// credentialHeaders are never stored with an inbox row.
var credentialHeaders = map[string]bool{"Authorization": true, "Cookie": true, "Proxy-Authorization": true}

// appendHeaderJSON appends h as JSON, an object of string arrays in key order,
// as json.Marshal writes an http.Header, leaving out credentialHeaders. It runs
// for every stored webhook: written by hand, it takes a third of the time of a
// copy through json.Marshal (0.5 µs for a Stripe request's headers) and
// allocates nothing.
func appendHeaderJSON(dst []byte, h http.Header) []byte {
	var names [24]string
	keys := names[:0]
	for k := range h {
		if !credentialHeaders[http.CanonicalHeaderKey(k)] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // also decides which of two names that read the same once made valid UTF-8 comes last, and wins
	dst = append(dst, '{')
	for i, k := range keys {
		vs := h[k]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		if vs == nil {
			dst = append(dst, ":null"...)
			continue
		}
		dst = append(dst, ':', '[')
		for i, v := range vs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string that decodes as json.Marshal's
// encoding of s does: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

// Insert implements domain.Inbox: one multi-row INSERT … ON CONFLICT DO NOTHING,
// one commit, whatever the number of entries.
func (s *Inbox) Insert(ctx context.Context, entries []domain.InboxEntry) ([]domain.InsertResult, error) {
	return insertEntries(ctx, s.DB, func(ctx context.Context, args ...any) (*sqlx.Rows, error) {
		return s.DB.QueryxContext(ctx, insertSQL, args...)
	}, entries)
}

// insertSQL inserts any number of entries, one array per column, so that its
// text never changes and it can be prepared once (InboxBatcher does). Rows go
// in in array order. The arrays go in binary (binaryArray); a NULL receipt
// time (an entry without one) is the time of the insert.
const insertSQL = `INSERT INTO inbox (source, provider, event_id, event_type, headers, body, occurred_at, received_at, status, unconfirmed, order_ref)
	SELECT s, p, e, t, h, b, o, coalesce(r, now()), st, u, ref
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bytea[], $7::timestamptz[], $8::timestamptz[],
		$9::text[], $10::bool[], $11::text[]) AS x(s, p, e, t, h, b, o, r, st, u, ref)
	ON CONFLICT (source, event_id) DO NOTHING
	RETURNING id, source, event_id`

// insertEntries runs insertSQL through insert, as one statement (on the pool, it
// is its own transaction). Rows go in in (source, event id) order, so that
// concurrent inserts of overlapping keys take their locks in one order and cannot
// deadlock. The ids of duplicates (already stored, or repeated within entries) are
// read back with one more query, on db.
func insertEntries(ctx context.Context, db sqlx.QueryerContext, insert func(ctx context.Context, args ...any) (*sqlx.Rows, error),
	entries []domain.InboxEntry) ([]domain.InsertResult, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(entries[a].Source, entries[b].Source), strings.Compare(entries[a].EventID, entries[b].EventID))
	})
	n := len(entries)
	var (
		sources, providers, eventIDs = newBinaryArray(oidText, n, 16*n), newBinaryArray(oidText, n, 8*n), newBinaryArray(oidText, n, 32*n)
		types, headers, bodies       = newBinaryArray(oidText, n, 32*n), newBinaryArray(oidJSONB, n, 256*n), newBinaryArray(oidBytea, n, 512*n)
		occurred, received           = newBinaryArray(oidTimestamptz, n, 8*n), newBinaryArray(oidTimestamptz, n, 8*n)
		status, unconfirmed          = newBinaryArray(oidText, n, 8*n), newBinaryArray(oidBool, n, n)
		orderRefs                    = newBinaryArray(oidText, n, 16*n)
	)
	for _, i := range order {
		e := entries[i]
		sources.text(e.Source)
		providers.text(e.Provider)
		eventIDs.text(e.EventID)
		types.text(e.EventType)
		headers.jsonb(func(b []byte) []byte { return appendHeaderJSON(b, e.Header) })
		bodies.bytes(e.Body)
		occurred.timestamptz(e.OccurredAt)
		received.timestamptz(e.ReceivedAt)
		status.text(e.Status)
		unconfirmed.boolean(e.Unconfirmed)
		if e.OrderRef == "" {
			orderRefs.null()
		} else {
			orderRefs.text(e.OrderRef)
		}
	}
	rows, err := insert(ctx, sources.value(), providers.value(), eventIDs.value(), types.value(), headers.value(), bodies.value(),
		occurred.value(), received.value(), status.value(), unconfirmed.value(), orderRefs.value())
	if err != nil {
		return nil, translate("inbox insert", err)
	}
	inserted, err := scanKeys(rows)
	if err != nil {
		return nil, translate("inbox insert", err)
	}
	out := make([]domain.InsertResult, len(entries))
	var dupSources, dupIDs []string
	for _, i := range order {
		k := entryKey{entries[i].Source, entries[i].EventID}
		if id, ok := inserted[k]; ok {
			out[i] = domain.InsertResult{ID: id, New: true}
			delete(inserted, k) // a repeat within one batch is a duplicate
		} else {
			dupSources, dupIDs = append(dupSources, k.source), append(dupIDs, k.eventID)
		}
	}
	if len(dupIDs) == 0 {
		return out, nil
	}
	rows, err = db.QueryxContext(ctx,
		`SELECT id, source, event_id FROM inbox WHERE (source, event_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
		pq.StringArray(dupSources), pq.StringArray(dupIDs))
	if err != nil {
		return nil, translate("inbox lookup", err)
	}
	stored, err := scanKeys(rows)
	if err != nil {
		return nil, translate("inbox lookup", err)
	}
	for i, e := range entries {
		if out[i].ID != 0 {
			continue
		}
		id, ok := stored[entryKey{e.Source, e.EventID}]
		if !ok {
			return nil, fmt.Errorf("inbox insert: %s/%s: neither inserted nor found", e.Source, e.EventID)
		}
		out[i] = domain.InsertResult{ID: id}
	}
	return out, nil
}

// entryKey is an inbox row's unique key.
type entryKey struct{ source, eventID string }

// scanKeys reads (id, source, event_id) rows and closes them.
func scanKeys(rows *sqlx.Rows) (map[entryKey]int64, error) {
	defer rows.Close()
	out := make(map[entryKey]int64)
	for rows.Next() {
		var (
			id         int64
			src, evtID string
		)
		if err := rows.Scan(&id, &src, &evtID); err != nil {
			return nil, err
		}
		out[entryKey{src, evtID}] = id
	}
	return out, rows.Err()
}

type inboxRow struct {
	ID          int64        `db:"id"`
	Source      string       `db:"source"`
	Provider    string       `db:"provider"`
	EventID     string       `db:"event_id"`
	EventType   string       `db:"event_type"`
	Headers     []byte       `db:"headers"`
	Body        []byte       `db:"body"`
	OccurredAt  sql.NullTime `db:"occurred_at"`
	ReceivedAt  time.Time    `db:"received_at"`
	Status      string       `db:"status"`
	Attempts    int          `db:"attempts"`
	LastError   string       `db:"last_error"`
	Unconfirmed bool         `db:"unconfirmed"`
	AppliedAt   sql.NullTime `db:"applied_at"`
}

func (r inboxRow) entry() (domain.InboxEntry, error) {
	e := domain.InboxEntry{
		ID: r.ID, Source: r.Source, Provider: r.Provider, EventID: r.EventID, EventType: r.EventType,
		Body: r.Body, OccurredAt: r.OccurredAt.Time, ReceivedAt: r.ReceivedAt.UTC(), Status: r.Status,
		Attempts: r.Attempts, LastError: r.LastError, Unconfirmed: r.Unconfirmed,
	}
	if err := json.Unmarshal(r.Headers, &e.Header); err != nil {
		return e, fmt.Errorf("inbox %d: headers: %w", r.ID, err)
	}
	return e, nil
}

const inboxColumns = `id, source, provider, event_id, event_type, headers, body, occurred_at, received_at, status, attempts, last_error, unconfirmed, applied_at`

// Get implements domain.Inbox.
func (s *Inbox) Get(ctx context.Context, id int64) (domain.InboxEntry, error) {
	var r inboxRow
	stmt, err := s.stmts.get(ctx, s.DB, `SELECT `+inboxColumns+` FROM inbox WHERE id = $1`)
	if err == nil {
		err = stmt.GetContext(ctx, &r, id)
	}
	if err != nil {
		return domain.InboxEntry{}, translate(fmt.Sprintf("inbox entry %d", id), err)
	}
	return r.entry()
}

// Pending implements domain.Inbox. It pages by id over the partial index of
// received entries (inbox_received_by_id).
func (s *Inbox) Pending(ctx context.Context, before time.Time, afterID int64, limit int) ([]domain.PendingEntry, error) {
	var rows []struct {
		ID       int64  `db:"id"`
		Provider string `db:"provider"`
	}
	err := s.DB.SelectContext(ctx, &rows,
		`SELECT id, provider FROM inbox WHERE status = 'received' AND id > $1 AND received_at < $2 ORDER BY id LIMIT $3`,
		afterID, before, limit)
	if err != nil {
		return nil, translate("inbox pending", err)
	}
	out := make([]domain.PendingEntry, len(rows))
	for i, r := range rows {
		out[i] = domain.PendingEntry{ID: r.ID, Provider: r.Provider}
	}
	return out, nil
}

// BeginAttempt implements domain.Inbox: one prepared UPDATE … RETURNING counts
// the attempt and reads the entry, so a task costs no more round trips than a
// plain read; only an entry that is not received (or absent) costs a second one.
func (s *Inbox) BeginAttempt(ctx context.Context, id int64) (domain.InboxEntry, error) {
	var r inboxRow
	stmt, err := s.stmts.get(ctx, s.DB,
		`UPDATE inbox SET attempts = attempts + 1 WHERE id = $1 AND status = 'received' RETURNING `+inboxColumns)
	if err == nil {
		err = stmt.GetContext(ctx, &r, id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return s.Get(ctx, id)
	}
	if err != nil {
		return domain.InboxEntry{}, translate(fmt.Sprintf("inbox entry %d: begin attempt", id), err)
	}
	return r.entry()
}

// CancelAttempt implements domain.Inbox.
func (s *Inbox) CancelAttempt(ctx context.Context, id int64) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE inbox SET attempts = attempts - 1 WHERE id = $1 AND attempts > 0`, id)
	return translate("inbox cancel attempt", err)
}

// MarkAttempt implements domain.Inbox. Attempts are counted by BeginAttempt.
func (s *Inbox) MarkAttempt(ctx context.Context, id int64, status, lastErr string) error {
	_, err := s.DB.ExecContext(ctx,
		`UPDATE inbox SET status = $2, last_error = $3 WHERE id = $1 AND status NOT IN ('applied', 'ignored')`,
		id, status, truncate(lastErr, 2000))
	return translate("inbox mark attempt", err)
}

// Reject implements domain.Inbox.
func (s *Inbox) Reject(ctx context.Context, r domain.Rejection) error {
	var inboxID sql.NullInt64
	if r.InboxID != 0 {
		inboxID = sql.NullInt64{Int64: r.InboxID, Valid: true}
	}
	// A stored entry rejected later (not confirmed) names the order its body named.
	_, err := s.DB.ExecContext(ctx,
		`INSERT INTO rejections (source, cause, detail, remote_addr, received_at, inbox_id, order_ref)
		VALUES ($1, $2, $3, $4, $5, $6, COALESCE(NULLIF($7, ''), (SELECT order_ref FROM inbox WHERE id = $6)))`,
		truncate(r.Source, 200), r.Cause, truncate(r.Detail, 1000), r.RemoteAddr, r.ReceivedAt, inboxID, truncate(r.OrderRef, 200))
	return translate("record rejection", err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
