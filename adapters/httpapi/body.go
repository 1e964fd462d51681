package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/tradewind/tradewind/domain"
)

// Request bodies are read by the handlers, not by fasthttp before them (the
// server streams request bodies), so that the bytes held at once across all
// connections are bounded: a body is read only once its bytes fit in the
// budget (TRADEWIND_MAX_INFLIGHT_BODY_BYTES), and they count until its request
// has been answered. A request that does not fit is answered 503 with
// Retry-After at once, without reading its body. Before its handler runs, a
// request holds at most its headers and the first 8 KB of its body.

// DefaultMaxInflightBody is the body budget when Params.MaxInflightBody is 0.
const DefaultMaxInflightBody = 64 << 20

// bodyRetryAfter is the wait suggested when the body budget is spent: bodies in
// flight are read within seconds, or cut at the read timeout.
const bodyRetryAfter = 2 * time.Second

// bodyBudget bounds the request body bytes held at once.
type bodyBudget struct {
	sem   *semaphore.Weighted
	limit int64
	held  atomic.Int64
	peak  atomic.Int64
}

func newBodyBudget(limit int64) *bodyBudget {
	return &bodyBudget{sem: semaphore.NewWeighted(limit), limit: limit}
}

// reserve takes n bytes of the budget, or reports false when they do not fit now.
// It never waits.
func (b *bodyBudget) reserve(n int64) bool {
	if n <= 0 {
		return true
	}
	if !b.sem.TryAcquire(n) {
		return false
	}
	held := b.held.Add(n)
	for {
		p := b.peak.Load()
		if held <= p || b.peak.CompareAndSwap(p, held) {
			return true
		}
	}
}

func (b *bodyBudget) release(n int64) {
	if n <= 0 {
		return
	}
	b.held.Add(-n)
	b.sem.Release(n)
}

// initBodies sets up the body budget and its gauge.
func (s *Server) initBodies() {
	limit := s.p.MaxInflightBody
	if limit <= 0 {
		limit = DefaultMaxInflightBody
	}
	s.bodies = newBodyBudget(limit)
	if s.p.Metrics != nil {
		// Register, not MustRegister: a second server on the same metrics (tests) keeps the first gauge.
		_ = s.p.Metrics.Registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tradewind_request_body_bytes_in_flight",
			Help: "Request body bytes held in memory now, bounded by TRADEWIND_MAX_INFLIGHT_BODY_BYTES.",
		}, func() float64 { return float64(s.bodies.held.Load()) }))
	}
}

// BodyBytesInFlight returns the request body bytes held now and the most ever
// held at once; neither exceeds the budget.
func (s *Server) BodyBytesInFlight() (now, peak int64) {
	return s.bodies.held.Load(), s.bodies.peak.Load()
}

// readBody reads the request body, at most limit bytes (set by setting), within
// the body budget.
// The bytes are the caller's own (not fasthttp's reused buffer) and count in the
// budget until release is called. On failure it returns the rejection cause
// with the error: payload_too_large (ETOOLARGE), overloaded (EUNAVAILABLE, with
// Retry-After set) or unparsable (EINVALID, the body ended early); the
// connection is then closed after the answer, since the rest of the body was
// not read.
func (s *Server) readBody(c *fiber.Ctx, limit int, setting string) (body []byte, release func(), cause string, err error) {
	req := c.Request()
	nothing := func() {}
	if !req.IsBodyStream() { // already in memory: fasthttp had it whole
		body = req.Body()
		if len(body) > limit {
			return nil, nothing, domain.CausePayloadTooLarge, tooLarge(len(body), limit, setting)
		}
		return bytes.Clone(body), nothing, "", nil
	}
	fail := func(cause string, err error) ([]byte, func(), string, error) {
		c.Context().SetConnectionClose() // what is left of the body must not be read as the next request
		return nil, nothing, cause, err
	}
	size := int64(req.Header.ContentLength()) // -1: chunked, length unknown
	if size > int64(limit) {
		return fail(domain.CausePayloadTooLarge, tooLarge(int(size), limit, setting))
	}
	reserved := size
	if size < 0 {
		reserved = int64(limit)
	}
	if !s.bodies.reserve(reserved) {
		c.Set(fiber.HeaderRetryAfter, retryAfter(bodyRetryAfter))
		return fail(domain.CauseOverloaded, &domain.Error{Code: domain.EUNAVAILABLE, Reason: domain.CauseOverloaded,
			Message: "Tradewind holds as many request bodies as it may at once (TRADEWIND_MAX_INFLIGHT_BODY_BYTES); nothing was read or accepted, retry shortly"})
	}
	stream := c.Context().RequestBodyStream()
	if size >= 0 {
		body = make([]byte, size)
		_, err = io.ReadFull(stream, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(stream, int64(limit)+1))
	}
	if err != nil {
		s.bodies.release(reserved)
		msg := "the request body ended before its Content-Length; send the whole body"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			msg = "the request body did not arrive within the read timeout; send it at once"
		}
		return fail(domain.CauseUnparsable, domain.WrapError(err, domain.EINVALID, msg))
	}
	if len(body) > limit {
		s.bodies.release(reserved)
		return fail(domain.CausePayloadTooLarge, tooLarge(len(body), limit, setting))
	}
	if size < 0 { // keep only what the body needs
		s.bodies.release(reserved - int64(len(body)))
		reserved = int64(len(body))
	}
	return body, func() { s.bodies.release(reserved) }, "", nil
}

// prefetched is how much of a body fasthttp reads with the headers, before the
// handler runs, when the server streams request bodies (8 KB in fasthttp 1.x).
const prefetched = 8 << 10

// skipBody leaves the connection ready for its next request when a handler
// answers without reading the body: a body fasthttp already read whole with the
// headers is gone from the connection; any other closes the connection after
// the answer, so that the rest of it is never read as a request.
func skipBody(c *fiber.Ctx) {
	req := c.Request()
	if !req.IsBodyStream() {
		return
	}
	if n := req.Header.ContentLength(); n >= 0 && n <= prefetched {
		return
	}
	c.Context().SetConnectionClose()
}

// tooLarge is the error for a body of n bytes over limit; n over limit+1 is exact,
// limit+1 means "at least" (a chunked body is read no further).
func tooLarge(n, limit int, setting string) error {
	if n == limit+1 {
		return domain.Errorf(domain.ETOOLARGE, "body is over the %d-byte limit (%s)", limit, setting)
	}
	return domain.Errorf(domain.ETOOLARGE, "body is %d bytes, over the %d-byte limit (%s)", n, limit, setting)
}

// bufferBody reads the body of every request but a webhook's into memory, within
// the server's body limit and the budget, before the route's handlers run. The
// ingress reads its own, after the checks that cost nothing.
func (s *Server) bufferBody(c *fiber.Ctx) error {
	if !c.Request().IsBodyStream() || hasPrefixFold(c.Path(), "/webhooks/") {
		return c.Next()
	}
	body, release, _, err := s.readBody(c, s.app.Config().BodyLimit, "the server's body limit")
	if err != nil {
		return err
	}
	defer release()
	c.Request().SetBodyRaw(body)
	return c.Next()
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
