package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

// ingest is POST /webhooks/:source. The steps run in the order PRODUCT.md fixes:
// size (declared) → source → (load shedding, 503) → body, within the bytes in
// flight (503) → signature → (rate limits, 429) → parse → (unstorable, 400) →
// commit → enqueue → answer. Nothing is answered 2xx before its inbox row is
// committed.
func (s *Server) ingest(c *fiber.Ctx) error {
	start := s.p.Now()
	sourceID := c.Params("source")
	outcome := "accepted"
	client := s.clients.of(c) // through trusted proxies (auth.go)
	// The metrics label is the configured source id once it is known: never the
	// request's own string, which points into a reused buffer and is unbounded.
	label := "unknown"
	defer func() {
		s.p.Metrics.Webhooks.WithLabelValues(label, outcome).Inc()
		s.p.Metrics.Ack.WithLabelValues(label).Observe(s.p.Now().Sub(start).Seconds())
	}()
	// orderRef is the order the body seems to name (unverified: a hint for ops, so
	// that even a refused request can be found by its order). It is read at most
	// once, and only when a rejection is recorded or an entry stored.
	orderRef := func() string { return "" }
	reject := func(cause string, err error) error {
		outcome = cause
		s.recordRejection(c, sourceID, client, cause, domain.ErrorMessage(err), orderRef, start)
		return err
	}

	// The body is read after the checks that need nothing of it; until then only
	// its declared length is known.
	bodyRead := false
	defer func() {
		if !bodyRead {
			skipBody(c)
		}
	}()
	if cl := c.Request().Header.ContentLength(); cl > s.p.MaxBody {
		return reject(domain.CausePayloadTooLarge, tooLarge(cl, s.p.MaxBody, "TRADEWIND_MAX_BODY_BYTES"))
	}
	src, ok := s.p.Sources.Source(sourceID)
	if !ok {
		return reject(domain.CauseUnknownSource, domain.Errorf(domain.ENOTFOUND,
			"no source %q is configured; add it to the sources file (TRADEWIND_SOURCES_FILE) or fix the URL", sourceID))
	}
	label = src.ID
	provider, ok := s.p.Providers.Provider(src.Provider)
	if !ok {
		return domain.Errorf(domain.EINTERNAL, "source %q names unknown provider %q", src.ID, src.Provider)
	}
	// Load shedding comes before any real work: the answer is the same whoever asks.
	if shed, depth := s.overloaded(); shed {
		c.Set(fiber.HeaderRetryAfter, retryAfter(shedRetryAfter))
		return reject(domain.CauseOverloaded, &domain.Error{Code: domain.EUNAVAILABLE, Reason: domain.CauseOverloaded,
			Message: fmt.Sprintf("Tradewind is behind on its work (%d tasks waiting, over TRADEWIND_SHED_QUEUE_DEPTH=%d); nothing was accepted, retry later",
				depth, s.p.ShedQueueDepth)})
	}
	body, release, cause, err := s.readBody(c, s.p.MaxBody, "TRADEWIND_MAX_BODY_BYTES")
	if err != nil {
		return reject(cause, err)
	}
	bodyRead = true
	defer release()
	d := domain.Delivery{
		Header:     requestHeader(c),
		Body:       body,
		URL:        c.BaseURL() + c.OriginalURL(),
		RemoteAddr: client.String(),
		ReceivedAt: start,
	}
	refKey := src.Setting("order_ref_key", "")
	orderRef = sync.OnceValue(func() string { return domain.OrderRefHint(d.Body, refKey) })
	if err := provider.Verify(c.UserContext(), src, d); err != nil {
		return reject(domain.CauseVerificationFailed, err)
	}
	if cause, err := s.claimTransmission(c.UserContext(), provider, src, d); err != nil {
		return reject(cause, err)
	}
	// The rate limits count verified requests only, so that forged ones cannot use
	// up a provider's allowance. Requests that carry no signature at all are
	// limited by default, per source and per client address.
	u, ok := provider.(unsignedProvider)
	unsigned := ok && u.Unsigned(d)
	wait, limit, err := s.limits.allow(src, client, unsigned, start)
	if err != nil {
		return domain.WrapError(err, domain.EINTERNAL, "source "+src.ID+": "+domain.ErrorMessage(err))
	}
	if wait > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(wait))
		return reject(domain.CauseRateLimited, domain.Errorf(domain.ERATELIMITED,
			"source %s is over %s; nothing was accepted, retry after %s s", src.ID, limit, retryAfter(wait)))
	}
	msgs, err := provider.Parse(src, d)
	if err != nil {
		return reject(domain.CauseUnparsable, err)
	}

	entries := make([]domain.InboxEntry, len(msgs))
	for i, m := range msgs {
		status := domain.InboxReceived
		if !provider.Handles(m.Type) {
			status = domain.InboxIgnored
		}
		entries[i] = domain.InboxEntry{
			Source: src.ID, Provider: src.Provider, EventID: m.ID, EventType: m.Type, Header: d.Header,
			Body: m.Payload, OccurredAt: m.OccurredAt, ReceivedAt: start, Status: status, Unconfirmed: m.Unconfirmed,
		}
		if bytes.Equal(m.Payload, d.Body) { // the whole request: read once for both
			entries[i].OrderRef = orderRef()
		} else { // one message of a batch names its own order
			entries[i].OrderRef = domain.OrderRefHint(m.Payload, refKey)
		}
	}
	// What cannot be stored is refused before it shares a commit with others.
	for i, e := range entries {
		if err := e.Validate(); err != nil {
			return reject(domain.CauseUnstorable, messageError(err, i, len(entries)))
		}
	}
	results, err := s.p.Inbox.Insert(c.UserContext(), entries)
	switch {
	case domain.ErrorCode(err) == domain.EINVALID: // PostgreSQL refused a value that Validate let through
		return reject(domain.CauseUnstorable, &domain.Error{Code: domain.EINVALID, Reason: domain.CauseUnstorable, Message: domain.ErrorMessage(err), Err: err})
	case err != nil:
		outcome = "unavailable"
		return domain.WrapError(err, domain.EUNAVAILABLE, "the webhook could not be stored; nothing was accepted, retry later")
	}

	ids, fresh := make([]int64, len(results)), 0
	for i, r := range results {
		ids[i] = r.ID
		if !r.New {
			continue
		}
		fresh++
		if entries[i].Status == domain.InboxReceived && !r.Queued { // queued with its commit when the inbox does that
			s.enqueue(c.UserContext(), r.ID, src)
		}
	}
	switch {
	case fresh == 0:
		outcome = "duplicate"
	case entries[0].Status == domain.InboxIgnored && len(entries) == 1:
		outcome = "ignored"
	}
	if a, ok := provider.(domain.Acknowledger); ok {
		ct, ack := a.Acknowledgement()
		c.Set(fiber.HeaderContentType, ct)
		return c.Status(http.StatusOK).Send(ack)
	}
	return c.Status(http.StatusOK).JSON(fiber.Map{"status": outcome, "inbox_ids": ids})
}

// messageError names the message at fault when a delivery holds several.
func messageError(err error, i, n int) error {
	if n == 1 {
		return err
	}
	return &domain.Error{Code: domain.ErrorCode(err), Reason: domain.ErrorReason(err),
		Message: fmt.Sprintf("message %d of %d: %s", i+1, n, domain.ErrorMessage(err)), Err: err}
}

// enqueue queues a committed entry. Failure is not the provider's problem: the
// entry is safe in PostgreSQL and the sweeper will queue it.
func (s *Server) enqueue(ctx context.Context, id int64, src domain.Source) {
	if err := s.p.Queue.Enqueue(ctx, id, src); err != nil {
		s.warn.Warn(ctx, "enqueue", "could not queue a stored webhook; the sweeper will queue it",
			slog.Int64("inbox_id", id), slog.String("source", src.ID), slog.String("error", err.Error()))
	}
}

// recordRejection writes a rejection row, within a rate bound, without secrets or body.
// orderRef is read only when the rejection is recorded.
func (s *Server) recordRejection(c *fiber.Ctx, source string, client netip.Addr, cause, detail string, orderRef func() string, at time.Time) {
	if !s.rejectLimit.Allow() {
		return
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
	defer cancel()
	// The source comes from the URL and the detail may quote the request: neither
	// may keep the rejection itself from being stored.
	source, detail = storableText(source), storableText(detail)
	err := s.p.Inbox.Reject(ctx, domain.Rejection{Source: source, Cause: cause, Detail: detail, OrderRef: orderRef(),
		RemoteAddr: client.String(), ReceivedAt: at})
	if err != nil {
		s.p.Logger.Warn("could not record a rejected webhook", slog.String("source", source),
			slog.String("cause", cause), slog.String("error", err.Error()))
	}
	s.p.Logger.Info("webhook rejected", slog.String("source", source), slog.String("cause", cause), slog.String("detail", detail))
}

// storableText is s without NUL bytes and with invalid UTF-8 replaced: text
// PostgreSQL can store.
func storableText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func requestHeader(c *fiber.Ctx) http.Header {
	h := make(http.Header, c.Request().Header.Len())
	c.Request().Header.VisitAll(func(k, v []byte) {
		h.Add(string(k), string(v))
	})
	return h
}
