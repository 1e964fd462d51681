package jobs_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

func TestPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "invalid input", err: domain.Errorf(domain.EINVALID, "bad"), want: true},
		{name: "not found", err: domain.Errorf(domain.ENOTFOUND, "gone"), want: true},
		{name: "NUL byte refused by PostgreSQL", err: fmt.Errorf("apply: %w", &pq.Error{Code: "22021"}), want: true},
		{name: "unsupported \\u0000 in jsonb", err: fmt.Errorf("apply: %w", &pq.Error{Code: "22P05"}), want: true},
		{name: "numeric out of range", err: &pq.Error{Code: "22003"}, want: true},
		{name: "index row too large", err: &pq.Error{Code: "54000"}, want: true},
		{name: "deadlock", err: &pq.Error{Code: "40P01"}, want: false},
		{name: "serialization failure", err: &pq.Error{Code: "40001"}, want: false},
		{name: "unavailable", err: domain.Errorf(domain.EUNAVAILABLE, "down"), want: false},
		{name: "plain error", err: errors.New("connection reset"), want: false},
		{name: "postponed", err: &jobs.PostponedError{Delay: time.Second}, want: false},
	}
	for _, tt := range tests {
		if got := jobs.Permanent(tt.err); got != tt.want {
			t.Errorf("%s: Permanent(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		err      error
		min, max time.Duration
	}{
		{name: "first failure", n: 0, err: errors.New("x"), min: 500 * time.Millisecond, max: time.Second},
		{name: "third failure", n: 3, err: errors.New("x"), min: 4 * time.Second, max: 8 * time.Second},
		{name: "capped at ten minutes", n: 19, err: errors.New("x"), min: 5 * time.Minute, max: 10 * time.Minute},
		{name: "postponed waits what it asked", n: 7, err: fmt.Errorf("wrapped: %w", &jobs.PostponedError{Delay: 42 * time.Second}),
			min: 42 * time.Second, max: 42 * time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			if d := jobs.RetryDelay(tt.n, tt.err, nil); d < tt.min || d > tt.max {
				t.Errorf("%s: RetryDelay(%d) = %s, want within [%s, %s]", tt.name, tt.n, d, tt.min, tt.max)
				break
			}
		}
	}
}

func TestIsFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "error", err: errors.New("x"), want: true},
		{name: "postponed", err: fmt.Errorf("task: %w", &jobs.PostponedError{Delay: time.Second}), want: false},
	}
	for _, tt := range tests {
		if got := jobs.IsFailure(tt.err); got != tt.want {
			t.Errorf("%s: IsFailure = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestConfirmLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := &jobs.ConfirmLimiter{Now: func() time.Time { return now }}
	capped := domain.Source{ID: "a", Settings: map[string]string{jobs.SettingConfirmRateLimit: "60"}}
	other := domain.Source{ID: "b", Settings: map[string]string{jobs.SettingConfirmRateLimit: "60"}}

	allowed := 0
	for range 20 {
		if l.Wait(capped) == 0 {
			allowed++
		}
	}
	if allowed != 6 {
		t.Errorf("calls allowed at once at 60/min = %d, want a burst of 6", allowed)
	}
	if d := l.Wait(capped); d <= 0 || d > time.Second {
		t.Errorf("wait over the cap = %s, want up to a second (60/min)", d)
	}
	if d := l.Wait(other); d != 0 {
		t.Errorf("another source waits %s, want 0: the cap is per source", d)
	}
	now = now.Add(time.Second)
	if d := l.Wait(capped); d != 0 {
		t.Errorf("a second later: wait %s, want 0", d)
	}
	if n, err := jobs.ConfirmRateLimit(domain.Source{}); err != nil || n != jobs.DefaultConfirmRateLimit {
		t.Errorf("default = %d, %v; want %d", n, err, jobs.DefaultConfirmRateLimit)
	}
}
