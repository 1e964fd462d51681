package postgres

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// Sessions stores the ops dashboard's sign-ins in ops_sessions, keyed by the
// SHA-256 of the session id.
type Sessions struct {
	DB sqlx.ExtContext
}

var _ domain.Sessions = (*Sessions)(nil)

func sessionKey(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// Create records s and deletes the sessions that had expired when it began.
func (st *Sessions) Create(ctx context.Context, s domain.Session) error {
	_, err := st.DB.ExecContext(ctx, `
		WITH ended AS (DELETE FROM ops_sessions WHERE expires_at < $2)
		INSERT INTO ops_sessions (id_hash, created_at, expires_at) VALUES ($1, $2, $3)`,
		sessionKey(s.ID), s.CreatedAt, s.ExpiresAt)
	return translate("create session", err)
}

// Active reports whether the session exists and expires after now.
func (st *Sessions) Active(ctx context.Context, id string, now time.Time) (bool, error) {
	var ok bool
	err := sqlx.GetContext(ctx, st.DB, &ok,
		`SELECT EXISTS (SELECT 1 FROM ops_sessions WHERE id_hash = $1 AND expires_at > $2)`, sessionKey(id), now)
	return ok, translate("check session", err)
}

// Revoke deletes the session.
func (st *Sessions) Revoke(ctx context.Context, id string) error {
	_, err := st.DB.ExecContext(ctx, `DELETE FROM ops_sessions WHERE id_hash = $1`, sessionKey(id))
	return translate("revoke session", err)
}
