package postgres_test

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/domain"
)

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func TestTransmissionsClaim(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, 8)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	store := &postgres.Transmissions{DB: db, Now: func() time.Time { return clock }}
	tr := func(source, id, body string, until time.Time) domain.Transmission {
		return domain.Transmission{Source: source, ID: id, BodyHash: hash(body), Until: until}
	}
	until := now.Add(6 * time.Minute)
	tests := []struct {
		name string
		t    domain.Transmission
		want string // error code
	}{
		{"first body", tr("s", "t1", "a", until), ""},
		{"the same body again", tr("s", "t1", "a", until), ""},
		{"another body", tr("s", "t1", "b", until), domain.ECONFLICT},
		{"the same id at another source", tr("other", "t1", "b", until), ""},
	}
	for _, tt := range tests {
		if err := store.Claim(ctx, tt.t); domain.ErrorCode(err) != tt.want {
			t.Fatalf("%s: Claim = %v, want code %q", tt.name, err, tt.want)
		}
	}

	t.Run("concurrent different bodies: one admitted", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 16)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = store.Claim(ctx, tr("s", "t2", string(rune('a'+i)), until))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if domain.ErrorCode(err) != domain.ECONFLICT {
				t.Errorf("Claim = %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d different bodies admitted, want 1", ok, len(errs))
		}
	})

	t.Run("expired rows are pruned", func(t *testing.T) {
		clock = until.Add(2 * time.Minute) // past every row's Until, and a prune interval later
		if err := store.Claim(ctx, tr("s", "t3", "c", clock.Add(6*time.Minute))); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM transmissions`); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("rows after pruning = %d, want 1 (the new claim)", n)
		}
	})
}
