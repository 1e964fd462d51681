package postgres

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/domain"
)

// Transmissions is the PostgreSQL store of used transmission ids (domain.Transmissions).
type Transmissions struct {
	DB  sqlx.ExtContext
	Now func() time.Time
	// PruneEvery is how often a Claim also deletes expired rows (default one minute).
	PruneEvery time.Duration

	mu         sync.Mutex
	lastPruned time.Time
}

var _ domain.Transmissions = (*Transmissions)(nil)

// Claim implements domain.Transmissions in one statement. ON CONFLICT DO UPDATE takes
// the existing row's lock and returns its latest committed version, so a concurrent
// claim of the same id waits for the first to commit and then sees its body hash: of
// two different bodies, exactly one is admitted. The update keeps the stored hash (and
// extends nothing: expires_at stays the first transmission's).
// Returns ECONFLICT when the id carried another body, EUNAVAILABLE when PostgreSQL
// cannot be reached.
func (s *Transmissions) Claim(ctx context.Context, t domain.Transmission) error {
	var stored []byte
	err := sqlx.GetContext(ctx, s.DB, &stored, `
		INSERT INTO transmissions (source, transmission_id, body_sha256, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (source, transmission_id) DO UPDATE SET source = EXCLUDED.source
		RETURNING body_sha256`, t.Source, t.ID, t.BodyHash, t.Until)
	if err != nil {
		return translate("claim transmission", err)
	}
	if !bytes.Equal(stored, t.BodyHash) {
		return domain.Errorf(domain.ECONFLICT, "transmission %s was already used with another body", t.ID)
	}
	s.prune(ctx)
	return nil
}

// prune deletes expired rows at most once per PruneEvery, from whichever Claim comes
// first; a failure is left for the next one.
func (s *Transmissions) prune(ctx context.Context) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	every := s.PruneEvery
	if every <= 0 {
		every = time.Minute
	}
	at := now()
	s.mu.Lock()
	due := at.Sub(s.lastPruned) >= every
	if due {
		s.lastPruned = at
	}
	s.mu.Unlock()
	if due {
		_, _ = s.DB.ExecContext(ctx, `DELETE FROM transmissions WHERE expires_at < $1`, at)
	}
}
