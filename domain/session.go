package domain

import (
	"context"
	"time"
)

// Session is one sign-in to the ops dashboard. ID is the secret the browser holds;
// stores keep only a hash of it.
type Session struct {
	ID        string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Sessions stores the dashboard's sign-ins where every `serve` replica sees them,
// so that signing out ends a session everywhere at once.
type Sessions interface {
	// Create records a new session. It may also forget sessions that ended
	// before s.CreatedAt.
	Create(ctx context.Context, s Session) error

	// Active reports whether the session with this id exists, has not been
	// revoked and has not expired at now. Returns EUNAVAILABLE when the store
	// cannot be reached.
	Active(ctx context.Context, id string, now time.Time) (bool, error)

	// Revoke ends the session with this id. Revoking an unknown or ended session
	// is not an error.
	Revoke(ctx context.Context, id string) error
}
