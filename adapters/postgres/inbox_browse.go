package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

var _ domain.InboxBrowser = (*Inbox)(nil)

// List implements domain.InboxBrowser.
func (s *Inbox) List(ctx context.Context, f domain.InboxFilter) ([]domain.InboxEntry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var rows []inboxRow
	err := sqlx.SelectContext(ctx, s.DB, &rows, `
		SELECT id, source, provider, event_id, event_type, '{}'::jsonb AS headers, ''::bytea AS body, occurred_at, received_at,
			status, attempts, last_error, unconfirmed, applied_at
		FROM inbox
		WHERE ($1 = '' OR source = $1) AND ($2 = '' OR status = $2) AND ($3 = 0 OR id < $3)
			AND ($5 = '' OR event_type = $5) AND ($6 = '' OR event_id = $6)
			AND ($7::timestamptz IS NULL OR received_at >= $7) AND ($8::timestamptz IS NULL OR received_at < $8)
		ORDER BY id DESC LIMIT $4`, f.Source, f.Status, f.BeforeID, f.Limit, f.EventType, f.EventID, nullTime(f.Since), nullTime(f.Until))
	if err != nil {
		return nil, translate("list inbox", err)
	}
	out := make([]domain.InboxEntry, len(rows))
	for i, r := range rows {
		if out[i], err = r.entry(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Requeue implements domain.InboxBrowser.
func (s *Inbox) Requeue(ctx context.Context, id int64) (domain.InboxEntry, error) {
	var status string
	err := sqlx.GetContext(ctx, s.DB, &status, `
		WITH old AS (SELECT status FROM inbox WHERE id = $1 FOR UPDATE)
		UPDATE inbox SET status = 'received', attempts = 0 FROM old
		WHERE inbox.id = $1 AND old.status <> 'applied'
		RETURNING old.status`, id)
	if err != nil {
		e, gerr := s.Get(ctx, id)
		if gerr != nil {
			return domain.InboxEntry{}, gerr
		}
		if e.Status == domain.InboxApplied {
			return e, &domain.Error{Code: domain.ECONFLICT, Reason: "already_applied",
				Message: fmt.Sprintf("webhook %d is applied already; replaying it would change nothing", id)}
		}
		return domain.InboxEntry{}, translate(fmt.Sprintf("requeue inbox entry %d", id), err)
	}
	return s.Get(ctx, id)
}

// CountByStatus implements domain.InboxBrowser.
func (s *Inbox) CountByStatus(ctx context.Context, since time.Time) (map[string]int, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	err := sqlx.SelectContext(ctx, s.DB, &rows,
		`SELECT status, count(*) AS n FROM inbox WHERE received_at >= $1 GROUP BY status`, since)
	if err != nil {
		return nil, translate("count inbox by status", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

// Rejections implements domain.InboxBrowser.
func (s *Inbox) Rejections(ctx context.Context, limit int) ([]domain.Rejection, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var rows []struct {
		ID         int64         `db:"id"`
		Source     string        `db:"source"`
		Cause      string        `db:"cause"`
		Detail     string        `db:"detail"`
		RemoteAddr string        `db:"remote_addr"`
		ReceivedAt time.Time     `db:"received_at"`
		InboxID    sql.NullInt64 `db:"inbox_id"`
	}
	err := sqlx.SelectContext(ctx, s.DB, &rows, `
		SELECT id, source, cause, detail, remote_addr, received_at, inbox_id
		FROM rejections ORDER BY received_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, translate("list rejections", err)
	}
	out := make([]domain.Rejection, len(rows))
	for i, r := range rows {
		out[i] = domain.Rejection{ID: r.ID, Source: r.Source, Cause: r.Cause, Detail: r.Detail, RemoteAddr: r.RemoteAddr,
			ReceivedAt: r.ReceivedAt.UTC(), InboxID: r.InboxID.Int64}
	}
	return out, nil
}
