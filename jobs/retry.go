package jobs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/time/rate"

	"github.com/tradewind/tradewind/domain"
)

// DefaultMaxAttempts is how many times an inbox entry is tried before it is
// marked failed. The count lives in PostgreSQL (inbox.attempts), so it holds even
// when Redis loses a task's retry counter.
const DefaultMaxAttempts = 20

// PostponedError is returned by a task that did not run for a reason that is no
// failure of its own, such as a cap on calls to a provider. It runs again after
// Delay, without spending an attempt (see IsFailure and RetryDelay).
type PostponedError struct {
	Delay  time.Duration
	Reason string
}

func (e *PostponedError) Error() string {
	return fmt.Sprintf("postponed for %s: %s", e.Delay.Round(time.Second), e.Reason)
}

// IsFailure is asynq.Config.IsFailure: a postponed task is not a failure, so its
// retry counter is not increased.
func IsFailure(err error) bool {
	var p *PostponedError
	return err != nil && !errors.As(err, &p)
}

// RetryDelay is asynq.Config.RetryDelayFunc: the delay a postponed task asked
// for, or a failed one named (RetryAfterError), and otherwise exponential backoff with jitter after the n-th failure:
// between half and all of 1s, 2s, 4s, …, capped at 10 minutes.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var p *PostponedError
	if errors.As(err, &p) {
		return p.Delay
	}
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.Delay
	}
	ceiling := min(time.Second<<min(max(n, 0), 10), 10*time.Minute)
	return ceiling/2 + rand.N(ceiling/2+1)
}

// Permanent reports whether retrying err cannot help, because the input is at
// fault rather than the moment: the message is invalid or names something that
// does not exist (EINVALID, ENOTFOUND), or PostgreSQL refused its data (SQLSTATE
// class 22, data exception: a NUL byte, an untranslatable \u0000, a value out of
// range; class 54, program limit exceeded: a key too long for its index). The
// SQLSTATE is read through the SQLState method that lib/pq and pgx errors share,
// whatever wraps it.
func Permanent(err error) bool {
	switch domain.ErrorCode(err) {
	case domain.EINVALID, domain.ENOTFOUND:
		return true
	}
	var pe interface{ SQLState() string }
	if errors.As(err, &pe) {
		s := pe.SQLState()
		return strings.HasPrefix(s, "22") || strings.HasPrefix(s, "54")
	}
	return false
}

// SettingConfirmRateLimit is the sources-file key capping a source's confirmation
// calls (the outbound calls that confirm an unsigned callback with the merchant's
// credentials), per minute.
const SettingConfirmRateLimit = "confirm_rate_limit"

// DefaultConfirmRateLimit is the cap of a source that does not set one.
const DefaultConfirmRateLimit = 60

// ConfirmRateLimit returns a source's cap on confirmation calls per minute.
// Returns EINVALID, naming the key, when the setting is not a whole number of at
// least 1.
func ConfirmRateLimit(src domain.Source) (int, error) {
	raw := src.Settings[SettingConfirmRateLimit]
	if raw == "" {
		return DefaultConfirmRateLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, domain.Errorf(domain.EINVALID, "%s is %q; want confirmation calls per minute, a whole number of at least 1 (default %d)",
			SettingConfirmRateLimit, raw, DefaultConfirmRateLimit)
	}
	return n, nil
}

// ConfirmLimiter caps confirmation calls per source: at most confirm_rate_limit a
// minute, in bursts of at most a tenth of that (at least 1). The count is per
// worker process. The zero value is ready to use.
type ConfirmLimiter struct {
	Now func() time.Time // defaults to time.Now

	mu       sync.Mutex
	limiters map[string]*sourceLimiter
}

type sourceLimiter struct {
	perMinute int
	lim       *rate.Limiter
}

// Wait returns zero, taking one call from src's allowance, or how long to wait
// until one is free (taking nothing).
func (c *ConfirmLimiter) Wait(src domain.Source) time.Duration {
	perMinute, err := ConfirmRateLimit(src)
	if err != nil {
		perMinute = DefaultConfirmRateLimit // refused at start; never reached
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.limiters[src.ID]
	if l == nil || l.perMinute != perMinute {
		if c.limiters == nil {
			c.limiters = make(map[string]*sourceLimiter)
		}
		l = &sourceLimiter{perMinute: perMinute, lim: rate.NewLimiter(rate.Limit(float64(perMinute)/60), max(1, perMinute/10))}
		c.limiters[src.ID] = l
	}
	r := l.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}
