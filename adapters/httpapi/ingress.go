package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// ingest is POST /webhooks/:source. The steps run in the order PRODUCT.md fixes:
// size → source → (load shedding, 503) → signature → (rate limit, 429) → parse →
// commit → enqueue → answer. Nothing is answered 2xx before its inbox row is
// committed.
func (s *Server) ingest(c *fiber.Ctx) error {
	start := s.p.Now()
	sourceID := c.Params("source")
	outcome := "accepted"
	defer func() {
		label := metricSource(sourceID, s.p.Sources)
		s.p.Metrics.Webhooks.WithLabelValues(label, outcome).Inc()
		s.p.Metrics.Ack.WithLabelValues(label).Observe(s.p.Now().Sub(start).Seconds())
	}()
	reject := func(cause string, err error) error {
		outcome = cause
		s.recordRejection(c, sourceID, cause, domain.ErrorMessage(err), start)
		return err
	}

	body := c.Body()
	if len(body) > s.p.MaxBody {
		return reject(domain.CausePayloadTooLarge, domain.Errorf(domain.ETOOLARGE,
			"body is %d bytes, over the %d-byte limit (TRADEWIND_MAX_BODY_BYTES)", len(body), s.p.MaxBody))
	}
	src, ok := s.p.Sources(sourceID)
	if !ok {
		return reject(domain.CauseUnknownSource, domain.Errorf(domain.ENOTFOUND,
			"no source %q is configured; add it to the sources file (TRADEWIND_SOURCES_FILE) or fix the URL", sourceID))
	}
	provider, ok := s.p.Providers(src.Provider)
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
	d := domain.Delivery{
		Header:     requestHeader(c),
		Body:       bytes.Clone(body),
		URL:        c.BaseURL() + c.OriginalURL(),
		RemoteAddr: c.IP(),
		ReceivedAt: start,
	}
	s.noteOrderRef(c, src, d.Body) // unverified: lets ops find even a refused request by its order (orderref.go)
	if err := provider.Verify(src, d); err != nil {
		return reject(domain.CauseVerificationFailed, err)
	}
	if cause, err := s.claimTransmission(c.UserContext(), provider, src, d); err != nil {
		return reject(cause, err)
	}
	// The rate limit counts verified requests only, so that forged ones cannot use
	// up a provider's allowance.
	wait, err := s.limits.allow(src, start)
	if err != nil {
		return domain.WrapError(err, domain.EINTERNAL, "source "+src.ID+": "+domain.ErrorMessage(err))
	}
	if wait > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(wait))
		return reject(domain.CauseRateLimited, domain.Errorf(domain.ERATELIMITED,
			"source %s is over its rate limit (%s: %s/s, %s: %s); nothing was accepted, retry after %s s",
			src.ID, SettingRateLimit, src.Settings[SettingRateLimit], SettingRateBurst, src.Setting(SettingRateBurst, "default"), retryAfter(wait)))
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
	}
	results, err := s.p.Inbox.Insert(c.UserContext(), entries)
	if err != nil {
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
		if entries[i].Status == domain.InboxReceived {
			s.enqueue(c.UserContext(), r.ID, src)
		}
	}
	switch {
	case fresh == 0:
		outcome = "duplicate"
	case entries[0].Status == domain.InboxIgnored && len(entries) == 1:
		outcome = "ignored"
	}
	if a, ok := provider.(webhook.Acknowledger); ok {
		ct, ack := a.Acknowledgement()
		c.Set(fiber.HeaderContentType, ct)
		return c.Status(http.StatusOK).Send(ack)
	}
	return c.Status(http.StatusOK).JSON(fiber.Map{"status": outcome, "inbox_ids": ids})
}

// enqueue queues a committed entry. Failure is not the provider's problem: the
// entry is safe in PostgreSQL and the sweeper will queue it.
func (s *Server) enqueue(ctx context.Context, id int64, src domain.Source) {
	if err := s.p.Enqueue(ctx, id, src); err != nil {
		s.warn.Warn(ctx, "enqueue", "could not queue a stored webhook; the sweeper will queue it",
			slog.Int64("inbox_id", id), slog.String("source", src.ID), slog.String("error", err.Error()))
	}
}

// recordRejection writes a rejection row, within a rate bound, without secrets or body.
func (s *Server) recordRejection(c *fiber.Ctx, source, cause, detail string, at time.Time) {
	if !s.rejectLimit.Allow() {
		return
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
	defer cancel()
	err := s.p.Inbox.Reject(ctx, domain.Rejection{Source: source, Cause: cause, Detail: detail, RemoteAddr: c.IP(), ReceivedAt: at})
	if err != nil {
		s.p.Logger.Warn("could not record a rejected webhook", slog.String("source", source),
			slog.String("cause", cause), slog.String("error", err.Error()))
	}
	s.p.Logger.Info("webhook rejected", slog.String("source", source), slog.String("cause", cause), slog.String("detail", detail))
}

func requestHeader(c *fiber.Ctx) http.Header {
	h := make(http.Header)
	c.Request().Header.VisitAll(func(k, v []byte) {
		h.Add(string(k), string(v))
	})
	return h
}

// metricSource keeps label cardinality bounded: unknown sources share one label.
// It returns the configured id, never the request's own string: Fiber's strings
// point into a buffer the next request reuses, and a label outlives the request.
func metricSource(id string, sources func(string) (domain.Source, bool)) string {
	if src, ok := sources(id); ok {
		return src.ID
	}
	return "unknown"
}
