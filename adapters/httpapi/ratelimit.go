package httpapi

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tradewind/tradewind/domain"
)

// Per-source rate limit settings, keys of a source's entry in the sources file.
const (
	SettingRateLimit = "rate_limit" // requests per second; unset means unlimited
	SettingRateBurst = "rate_burst" // requests allowed at once above the rate; default: the rate, at least 1
)

// SourceRateLimit returns a source's rate limit: its rate in requests per second
// and its burst, or ok false when the source is unlimited. Returns EINVALID,
// naming the key, when a setting is not a positive number.
func SourceRateLimit(src domain.Source) (limit rate.Limit, burst int, ok bool, err error) {
	raw := src.Settings[SettingRateLimit]
	if raw == "" {
		if src.Settings[SettingRateBurst] != "" {
			return 0, 0, false, domain.Errorf(domain.EINVALID, "%s is set without %s; set both, or neither for no limit", SettingRateBurst, SettingRateLimit)
		}
		return 0, 0, false, nil
	}
	r, perr := strconv.ParseFloat(raw, 64)
	if perr != nil || r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return 0, 0, false, domain.Errorf(domain.EINVALID, "%s is %q; want requests per second, a number above 0 (e.g. 50 or 0.5)", SettingRateLimit, raw)
	}
	burst = max(1, int(math.Ceil(r)))
	if rawBurst := src.Settings[SettingRateBurst]; rawBurst != "" {
		b, perr := strconv.Atoi(rawBurst)
		if perr != nil || b < 1 {
			return 0, 0, false, domain.Errorf(domain.EINVALID, "%s is %q; want a whole number of requests, at least 1", SettingRateBurst, rawBurst)
		}
		burst = b
	}
	return rate.Limit(r), burst, true, nil
}

// sourceLimits holds one token bucket per rate-limited source. The zero value is
// ready to use. A source whose settings change (a reloaded sources file) gets a
// fresh bucket.
type sourceLimits struct {
	m sync.Map // source id → *sourceLimiter
}

type sourceLimiter struct {
	limit rate.Limit
	burst int
	lim   *rate.Limiter
}

// allow takes one request from src's bucket at now. It returns 0 when the request
// may go on, or how long the sender should wait before trying again.
func (l *sourceLimits) allow(src domain.Source, now time.Time) (time.Duration, error) {
	limit, burst, ok, err := SourceRateLimit(src)
	if err != nil || !ok {
		return 0, err
	}
	v, _ := l.m.Load(src.ID)
	sl, _ := v.(*sourceLimiter)
	if sl == nil || sl.limit != limit || sl.burst != burst {
		fresh := &sourceLimiter{limit: limit, burst: burst, lim: rate.NewLimiter(limit, burst)}
		if sl == nil {
			v, _ = l.m.LoadOrStore(src.ID, fresh)
			sl = v.(*sourceLimiter)
		} else {
			l.m.Store(src.ID, fresh)
			sl = fresh
		}
	}
	r := sl.lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Second, nil // cannot happen with burst ≥ 1
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request does not use up the next token
		return d, nil
	}
	return 0, nil
}

// retryAfter is the value of a Retry-After header for a wait of d: whole
// seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return fmt.Sprint(max(1, int64(math.Ceil(d.Seconds()))))
}
