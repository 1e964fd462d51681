package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

type maturer struct {
	now   time.Time
	grace time.Duration
	err   error
}

func (m *maturer) Mature(_ context.Context, now time.Time, grace time.Duration, _ int) (int, error) {
	m.now, m.grace = now, grace
	return 1, m.err
}

func TestMatureConflictsUsesTheInjectedClockAndGrace(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		err  error
	}{
		{"matures", nil},
		{"a database error is returned so the next run tries again", errors.New("down")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &maturer{err: tt.err}
			h := &MatureConflicts{Conflicts: m, Grace: 2 * time.Minute, Now: func() time.Time { return at },
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			err := h.ProcessTask(context.Background(), NewMatureConflictsTask())
			if !errors.Is(err, tt.err) || !m.now.Equal(at) || m.grace != 2*time.Minute {
				t.Errorf("ProcessTask = %v with now %v grace %v; want %v at %v, 2m", err, m.now, m.grace, tt.err, at)
			}
			if got := NewMatureConflictsTask().Type(); got != "conflicts:mature" {
				t.Errorf("task type %q: a task type is permanent once deployed", got)
			}
		})
	}
}
