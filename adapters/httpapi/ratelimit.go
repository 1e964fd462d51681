package httpapi

import (
	"fmt"
	"math"
	"net/netip"
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

	// Requests that carry no signature (PowerTranz and PlugnPay callbacks, relayed by
	// the shopper's browser; WooCommerce's creation ping) can come from anyone, and
	// each one stores a row (and, for a gateway, costs a confirmation call), so they
	// are limited by default, per source and per client address. "off" turns a
	// limit off.
	SettingUnsignedRateLimit   = "unsigned_rate_limit"    // per source, requests per second; default 20
	SettingUnsignedRateBurst   = "unsigned_rate_burst"    // default 100
	SettingUnsignedIPRateLimit = "unsigned_ip_rate_limit" // per client address (IPv6: per /64), requests per second; default 0.2
	SettingUnsignedIPRateBurst = "unsigned_ip_rate_burst" // default 10
)

// Default limits of unsigned requests.
var (
	DefaultUnsignedRate   = RateLimit{Rate: 20, Burst: 100}
	DefaultUnsignedIPRate = RateLimit{Rate: 0.2, Burst: 10}
)

// RateLimit is a token bucket: Rate requests per second, Burst at once.
type RateLimit struct {
	Rate  rate.Limit
	Burst int
}

func (r RateLimit) String() string {
	return fmt.Sprintf("%s/s, burst %d", strconv.FormatFloat(float64(r.Rate), 'f', -1, 64), r.Burst)
}

// unsignedProvider is implemented by providers that accept some requests without
// a signature; Unsigned reports whether a verified delivery is one of them.
type unsignedProvider interface {
	Unsigned(d domain.Delivery) bool
}

// SourceRateLimit returns a source's rate limit: its rate in requests per second
// and its burst, or ok false when the source is unlimited. Returns EINVALID,
// naming the key, when a setting is not a positive number.
func SourceRateLimit(src domain.Source) (limit rate.Limit, burst int, ok bool, err error) {
	r, ok, err := settingLimit(src, SettingRateLimit, SettingRateBurst, nil)
	return r.Rate, r.Burst, ok, err
}

// UnsignedRateLimits returns the limits of a source's unsigned requests, per
// source and per client address; ok false means that limit is off. Returns
// EINVALID, naming the key, when a setting is neither a positive number nor off.
func UnsignedRateLimits(src domain.Source) (perSource, perIP RateLimit, sourceOK, ipOK bool, err error) {
	perSource, sourceOK, err = settingLimit(src, SettingUnsignedRateLimit, SettingUnsignedRateBurst, &DefaultUnsignedRate)
	if err != nil {
		return
	}
	perIP, ipOK, err = settingLimit(src, SettingUnsignedIPRateLimit, SettingUnsignedIPRateBurst, &DefaultUnsignedIPRate)
	return
}

// CheckRateLimits validates every rate limit setting of a source. Returns EINVALID
// naming the key.
func CheckRateLimits(src domain.Source) error {
	if _, _, _, err := SourceRateLimit(src); err != nil {
		return err
	}
	_, _, _, _, err := UnsignedRateLimits(src)
	return err
}

// settingLimit reads a limit from a rate and a burst key. Without def, an unset
// rate means no limit; with def, it means def, and "off" means no limit.
func settingLimit(src domain.Source, rateKey, burstKey string, def *RateLimit) (RateLimit, bool, error) {
	raw, rawBurst := src.Settings[rateKey], src.Settings[burstKey]
	switch {
	case def != nil && raw == "off":
		return RateLimit{}, false, nil
	case raw == "" && def != nil && rawBurst == "":
		return *def, true, nil
	case raw == "" && def == nil:
		if rawBurst != "" {
			return RateLimit{}, false, domain.Errorf(domain.EINVALID, "%s is set without %s; set both, or neither for no limit", burstKey, rateKey)
		}
		return RateLimit{}, false, nil
	}
	out := RateLimit{}
	if def != nil {
		out = *def
	}
	if raw != "" {
		r, perr := strconv.ParseFloat(raw, 64)
		if perr != nil || r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			valid := "a number above 0 (e.g. 50 or 0.5)"
			if def != nil {
				valid += ", or off"
			}
			return RateLimit{}, false, domain.Errorf(domain.EINVALID, "%s is %q; want requests per second, %s", rateKey, raw, valid)
		}
		out = RateLimit{Rate: rate.Limit(r), Burst: max(1, int(math.Ceil(r)))}
		if def != nil {
			out.Burst = max(out.Burst, def.Burst)
		}
	}
	if rawBurst != "" {
		b, perr := strconv.Atoi(rawBurst)
		if perr != nil || b < 1 {
			return RateLimit{}, false, domain.Errorf(domain.EINVALID, "%s is %q; want a whole number of requests, at least 1", burstKey, rawBurst)
		}
		out.Burst = b
	}
	return out, true, nil
}

// sourceLimits holds the token buckets: one per rate-limited source, one per
// source for its unsigned requests, and one per source and client address for
// those. A source whose settings change (a reloaded sources file) gets fresh
// buckets.
type sourceLimits struct {
	m   sync.Map       // key → *sourceLimiter; per source, which only the sources file adds, so unbounded
	ips *keyedLimiters // source id + " " + client address → bucket; at most maxTrackedAddresses
}

// maxTrackedAddresses bounds the per-address buckets kept in memory: past it,
// the least recently used are forgotten, and a forgotten address starts again
// with a full burst, still within its source's limit.
const maxTrackedAddresses = 100_000

type sourceLimiter struct {
	spec RateLimit
	lim  *rate.Limiter
}

// allow takes one request of src, from the client at ip, from every bucket that
// applies at now. It returns 0 when the request may go on, or how long the sender
// should wait before trying again and which limit refused it, in words. A refused
// request takes no token from any bucket.
func (l *sourceLimits) allow(src domain.Source, client netip.Addr, unsigned bool, now time.Time) (time.Duration, string, error) {
	// what names a bucket's limit in words; it is written only for a refusal.
	type bucket struct {
		lim  *rate.Limiter
		what func() string
	}
	var buckets []bucket
	limit, burst, ok, err := SourceRateLimit(src)
	if err != nil {
		return 0, "", err
	}
	if ok {
		buckets = append(buckets, bucket{l.limiter(src.ID, RateLimit{limit, burst}), func() string {
			return fmt.Sprintf("its rate limit (%s: %s/s, %s: %d)", SettingRateLimit, src.Settings[SettingRateLimit], SettingRateBurst, burst)
		}})
	}
	if unsigned {
		perSource, perIP, sourceOK, ipOK, err := UnsignedRateLimits(src)
		if err != nil {
			return 0, "", err
		}
		if ipOK {
			buckets = append(buckets, bucket{l.ips.get(src.ID+" "+limitKey(client), perIP), func() string {
				return fmt.Sprintf("its limit of unsigned requests from one address (%s, %s: %s)", SettingUnsignedIPRateLimit, SettingUnsignedIPRateBurst, perIP)
			}})
		}
		if sourceOK {
			buckets = append(buckets, bucket{l.limiter("unsigned:"+src.ID, perSource), func() string {
				return fmt.Sprintf("its limit of unsigned requests (%s, %s: %s)", SettingUnsignedRateLimit, SettingUnsignedRateBurst, perSource)
			}})
		}
	}
	var (
		taken   []*rate.Reservation
		wait    time.Duration
		refused func() string
	)
	for _, b := range buckets {
		r := b.lim.ReserveN(now, 1)
		if !r.OK() { // cannot happen with burst ≥ 1
			wait, refused = max(wait, time.Second), b.what
			continue
		}
		taken = append(taken, r)
		if d := r.DelayFrom(now); d > wait {
			wait, refused = d, b.what
		}
	}
	if wait == 0 {
		return 0, "", nil
	}
	for _, r := range taken {
		r.CancelAt(now) // a refused request does not use up the next token
	}
	return wait, refused(), nil
}

// limiter returns the bucket under key, fresh when spec has changed.
func (l *sourceLimits) limiter(key string, spec RateLimit) *rate.Limiter {
	v, _ := l.m.Load(key)
	sl, _ := v.(*sourceLimiter)
	if sl != nil && sl.spec == spec {
		return sl.lim
	}
	fresh := &sourceLimiter{spec: spec, lim: rate.NewLimiter(spec.Rate, spec.Burst)}
	if sl == nil {
		v, _ = l.m.LoadOrStore(key, fresh)
		return v.(*sourceLimiter).lim
	}
	l.m.Store(key, fresh)
	return fresh.lim
}

// retryAfter is the value of a Retry-After header for a wait of d: whole
// seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return fmt.Sprint(max(1, int64(math.Ceil(d.Seconds()))))
}
