// Package ratelog writes a repeated log line at most once per interval per kind,
// and counts the ones it holds back. An outage that fails every request then
// writes one line every few seconds, not one per request, and each line says how
// many like it were left out since the previous one.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Logger limits lines per kind. Kinds must come from a small fixed set chosen by
// the caller (e.g. "enqueue", "readyz:postgres"), never from a request: every
// kind is remembered.
type Logger struct {
	l     *slog.Logger
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	kinds map[string]*kind
}

type kind struct {
	last       time.Time
	suppressed int
}

// New returns a Logger that writes at most one line per kind every interval to l.
// now is the clock (time.Now when nil).
func New(l *slog.Logger, every time.Duration, now func() time.Time) *Logger {
	if now == nil {
		now = time.Now
	}
	return &Logger{l: l, every: every, now: now, kinds: map[string]*kind{}}
}

// Log writes msg with attrs at level, unless a line of the same kind was written
// less than the interval ago; then it only counts it. A line written after some
// were held back carries their number as "suppressed". The count of the last
// burst is written with the next line of its kind, if one ever comes.
func (r *Logger) Log(ctx context.Context, level slog.Level, kindName, msg string, attrs ...slog.Attr) {
	if !r.l.Enabled(ctx, level) {
		return
	}
	now := r.now()
	r.mu.Lock()
	k := r.kinds[kindName]
	if k == nil {
		k = &kind{}
		r.kinds[kindName] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < r.every {
		k.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	r.mu.Unlock()
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	r.l.LogAttrs(ctx, level, msg, attrs...)
}

// Warn is Log at warning level.
func (r *Logger) Warn(ctx context.Context, kindName, msg string, attrs ...slog.Attr) {
	r.Log(ctx, slog.LevelWarn, kindName, msg, attrs...)
}
