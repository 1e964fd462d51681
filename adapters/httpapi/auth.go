package httpapi

import (
	"crypto/subtle"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"github.com/tradewind/tradewind/domain"
)

// Guessing the API token is slowed down per client address, never globally: a
// client that keeps sending wrong tokens (as a bearer token or on the dashboard's
// sign-in form, which share one budget) is refused with 429 for a while, and
// nobody else notices. A correct token never spends from the budget.
const (
	guessBurst = 10              // wrong tokens a client may send in a row
	guessEvery = 6 * time.Second // then one more per interval (10 a minute)
	guessKeys  = 100_000         // client addresses remembered, least recently failed forgotten first
	ipv6Prefix = 64              // an IPv6 client is its /64: one host usually owns the whole prefix
)

// guessLimiter is a token bucket per client address for failed credential checks,
// kept in bounded memory (keyedLimiters). Only failures create entries, so the
// clients that sign in right cost nothing.
type guessLimiter struct {
	spec RateLimit
	keys *keyedLimiters // least recently failed forgotten first
}

func newGuessLimiter(every time.Duration, burst, max int) *guessLimiter {
	return &guessLimiter{spec: RateLimit{Rate: rate.Every(every), Burst: burst}, keys: newKeyedLimiters(max)}
}

// check records the outcome of one credential check by key at now. A wrong
// credential spends one token; a right one spends nothing. Either is refused while
// the key's bucket is empty, so that a client being refused learns nothing about
// its guesses. retry is how long to wait when refused.
func (g *guessLimiter) check(key string, right bool, now time.Time) (ok bool, retry time.Duration) {
	var lim *rate.Limiter
	if right {
		lim = g.keys.peek(key, g.spec) // not get: a right credential stores nothing
		if lim == nil || lim.TokensAt(now) >= 1 {
			return true, 0
		}
	} else {
		lim = g.keys.get(key, g.spec)
		if lim.AllowN(now, 1) {
			return true, 0
		}
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(missing / float64(g.spec.Rate) * float64(time.Second))
}

// clientAddrs finds the client's address: the connection's peer, unless the peer
// is a trusted proxy, in which case the rightmost address of header (normally
// X-Forwarded-For) that is not itself a trusted proxy. The leftmost entries of
// that header are whatever the client wrote, so they are never believed.
type clientAddrs struct {
	trusted []netip.Prefix
	header  string
}

// ParseTrustedProxies reads TRADEWIND_TRUSTED_PROXIES: IP addresses or CIDR
// prefixes separated by commas; empty trusts no proxy.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (a clientAddrs) isTrusted(ip netip.Addr) bool {
	for _, p := range a.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// of returns the client's address for c.
func (a clientAddrs) of(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if len(a.trusted) == 0 || !a.isTrusted(peer) {
		return peer
	}
	client := peer
	values := c.Request().Header.PeekAll(a.header)
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(string(values[i]), ",")
		for j := len(hops) - 1; j >= 0; j-- {
			ip, ok := parseHop(hops[j])
			if !ok {
				return client // the chain is garbled past here: the last trusted hop is all we know
			}
			client = ip
			if !a.isTrusted(ip) {
				return client
			}
		}
	}
	return client
}

// parseHop reads one entry of X-Forwarded-For: an address, possibly with a port.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// key is the limiter key of the client of c (see limitKey). The string is
// freshly allocated, so it may outlive the request.
func (a clientAddrs) key(c *fiber.Ctx) string { return limitKey(a.of(c)) }

// limitKey is what a per-client limit counts under: the IPv4 address, or the
// IPv6 /64 (one subscriber's network has them all).
func limitKey(ip netip.Addr) string {
	if ip.Is6() {
		p, _ := ip.Prefix(ipv6Prefix)
		return p.String()
	}
	return ip.String()
}

// checkGuess applies the per-client limit on wrong tokens to one check of token.
// It returns whether the token is right, or a 429 error when the client must wait.
func (s *Server) checkGuess(c *fiber.Ctx, token string) (bool, error) {
	right := s.p.APIToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.p.APIToken)) == 1
	ok, wait := s.guesses.check(s.clients.key(c), right, s.p.Now())
	if !ok {
		c.Set(fiber.HeaderRetryAfter, retryAfter(wait))
		return false, domain.Errorf(domain.ERATELIMITED,
			"too many wrong API tokens from your address; wait %s seconds, then send the value of TRADEWIND_API_TOKEN", retryAfter(wait))
	}
	return right, nil
}

// requireToken admits API requests that carry the API token as a bearer token.
func (s *Server) requireToken(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if ok && token != "" {
		right, err := s.checkGuess(c, token)
		if err != nil {
			return err
		}
		if right {
			return c.Next()
		}
	}
	return domain.Errorf(domain.EUNAUTHORIZED, "send the API token as 'Authorization: Bearer <token>' (the value of TRADEWIND_API_TOKEN)")
}
