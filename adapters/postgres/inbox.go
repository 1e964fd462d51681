package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// Inbox is the PostgreSQL inbox of accepted webhooks.
type Inbox struct {
	DB *sqlx.DB
}

var _ domain.Inbox = (*Inbox)(nil)

// credentialHeaders are never stored with an inbox row.
var credentialHeaders = map[string]bool{"Authorization": true, "Cookie": true, "Proxy-Authorization": true}

func headerJSON(h http.Header) ([]byte, error) {
	kept := make(http.Header, len(h))
	for k, v := range h {
		if !credentialHeaders[http.CanonicalHeaderKey(k)] {
			kept[k] = v
		}
	}
	return json.Marshal(kept)
}

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

// Insert implements domain.Inbox: one multi-row INSERT … ON CONFLICT DO NOTHING,
// one commit, whatever the number of entries.
func (s *Inbox) Insert(ctx context.Context, entries []domain.InboxEntry) ([]domain.InsertResult, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	var (
		q    strings.Builder
		args = make([]any, 0, len(entries)*10)
	)
	q.WriteString(`INSERT INTO inbox (source, provider, event_id, event_type, headers, body, occurred_at, received_at, status, unconfirmed) VALUES `)
	for i, e := range entries {
		hj, err := headerJSON(e.Header)
		if err != nil {
			return nil, fmt.Errorf("inbox insert: headers: %w", err)
		}
		if i > 0 {
			q.WriteByte(',')
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10)
		args = append(args, e.Source, e.Provider, e.EventID, e.EventType, hj, e.Body, nullTime(e.OccurredAt), e.ReceivedAt, e.Status, e.Unconfirmed)
	}
	q.WriteString(` ON CONFLICT (source, event_id) DO NOTHING RETURNING id, source, event_id`)

	rows, err := s.DB.QueryxContext(ctx, q.String(), args...)
	if err != nil {
		return nil, translate("inbox insert", err)
	}
	defer rows.Close()
	type key struct{ source, eventID string }
	inserted := make(map[key]int64, len(entries))
	for rows.Next() {
		var (
			id         int64
			src, evtID string
		)
		if err := rows.Scan(&id, &src, &evtID); err != nil {
			return nil, translate("inbox insert", err)
		}
		inserted[key{src, evtID}] = id
	}
	if err := rows.Err(); err != nil {
		return nil, translate("inbox insert", err)
	}
	out := make([]domain.InsertResult, len(entries))
	var dups []int
	for i, e := range entries {
		if id, ok := inserted[key{e.Source, e.EventID}]; ok {
			out[i] = domain.InsertResult{ID: id, New: true}
			delete(inserted, key{e.Source, e.EventID}) // a repeat within one batch is a duplicate
		} else {
			dups = append(dups, i)
		}
	}
	for _, i := range dups {
		id, err := s.lookup(ctx, entries[i].Source, entries[i].EventID)
		if err != nil {
			return nil, err
		}
		out[i] = domain.InsertResult{ID: id}
	}
	return out, nil
}

func (s *Inbox) lookup(ctx context.Context, source, eventID string) (int64, error) {
	var id int64
	err := s.DB.GetContext(ctx, &id, `SELECT id FROM inbox WHERE source = $1 AND event_id = $2`, source, eventID)
	return id, translate("inbox lookup", err)
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
	if err := s.DB.GetContext(ctx, &r, `SELECT `+inboxColumns+` FROM inbox WHERE id = $1`, id); err != nil {
		return domain.InboxEntry{}, translate(fmt.Sprintf("inbox entry %d", id), err)
	}
	return r.entry()
}

// Pending implements domain.Inbox.
func (s *Inbox) Pending(ctx context.Context, before time.Time, limit int) ([]int64, error) {
	var ids []int64
	err := s.DB.SelectContext(ctx, &ids,
		`SELECT id FROM inbox WHERE status = 'received' AND received_at < $1 ORDER BY received_at LIMIT $2`, before, limit)
	return ids, translate("inbox pending", err)
}

// MarkAttempt implements domain.Inbox.
func (s *Inbox) MarkAttempt(ctx context.Context, id int64, status, lastErr string) error {
	_, err := s.DB.ExecContext(ctx,
		`UPDATE inbox SET attempts = attempts + 1, status = $2, last_error = $3 WHERE id = $1 AND status NOT IN ('applied', 'ignored')`,
		id, status, truncate(lastErr, 2000))
	return translate("inbox mark attempt", err)
}

// Reject implements domain.Inbox.
func (s *Inbox) Reject(ctx context.Context, r domain.Rejection) error {
	var inboxID sql.NullInt64
	if r.InboxID != 0 {
		inboxID = sql.NullInt64{Int64: r.InboxID, Valid: true}
	}
	_, err := s.DB.ExecContext(ctx,
		`INSERT INTO rejections (source, cause, detail, remote_addr, received_at, inbox_id) VALUES ($1, $2, $3, $4, $5, $6)`,
		truncate(r.Source, 200), r.Cause, truncate(r.Detail, 1000), r.RemoteAddr, r.ReceivedAt, inboxID)
	return translate("record rejection", err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
