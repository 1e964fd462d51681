package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

type webhookJSON struct {
	ID          int64               `json:"id"`
	Source      string              `json:"source"`
	Provider    string              `json:"provider"`
	EventID     string              `json:"event_id"`
	EventType   string              `json:"event_type"`
	Status      string              `json:"status"`
	Attempts    int                 `json:"attempts"`
	LastError   string              `json:"last_error,omitempty"`
	Unconfirmed bool                `json:"unconfirmed,omitempty"`
	OccurredAt  *time.Time          `json:"occurred_at,omitempty"`
	ReceivedAt  time.Time           `json:"received_at"`
	Headers     map[string][]string `json:"headers,omitempty"`
	Body        string              `json:"body,omitempty"`
	// BodyEncoding is "base64" when the body is not UTF-8 text.
	BodyEncoding string `json:"body_encoding,omitempty"`
}

func webhookView(e domain.InboxEntry, full bool) webhookJSON {
	w := webhookJSON{ID: e.ID, Source: e.Source, Provider: e.Provider, EventID: e.EventID, EventType: e.EventType,
		Status: e.Status, Attempts: e.Attempts, LastError: e.LastError, Unconfirmed: e.Unconfirmed, ReceivedAt: e.ReceivedAt}
	if !e.OccurredAt.IsZero() {
		t := e.OccurredAt.UTC()
		w.OccurredAt = &t
	}
	if full {
		w.Headers = e.Header
		if utf8.Valid(e.Body) {
			w.Body = string(e.Body)
		} else {
			w.Body, w.BodyEncoding = base64Encode(e.Body), "base64"
		}
	}
	return w
}

var inboxStatuses = map[string]bool{
	domain.InboxReceived: true, domain.InboxApplied: true, domain.InboxIgnored: true, domain.InboxFailed: true, domain.InboxRejected: true,
}

// webhookFilter checks the list filters the API and the dashboard share.
func webhookFilter(source, status string, limit int, before string) (domain.InboxFilter, error) {
	f := domain.InboxFilter{Source: source, Status: status, Limit: limit}
	if f.Status != "" && !inboxStatuses[f.Status] {
		return f, domain.Errorf(domain.EINVALID, "status: %q is not a webhook status; use received, applied, ignored, failed or rejected", f.Status)
	}
	if f.Limit < 1 || f.Limit > 1000 {
		return f, domain.Errorf(domain.EINVALID, "limit: must be between 1 and 1000")
	}
	if before != "" {
		id, err := strconv.ParseInt(before, 10, 64)
		if err != nil || id < 1 {
			return f, domain.Errorf(domain.EINVALID, "before: %q is not a webhook id", before)
		}
		f.BeforeID = id
	}
	return f, nil
}

// listWebhooks is GET /api/v1/webhooks?source=&status=&limit=&before=. With
// order_ref= it lists every request naming that order instead: stored webhooks
// (kind "webhook") and refused requests (kind "rejection"), newest first.
func (s *Server) listWebhooks(c *fiber.Ctx) error {
	if err := onlyParams(c, "source", "status", "limit", "before", "order_ref", "type", "event_id", "since", "until"); err != nil {
		return err
	}
	limit, err := queryLimit(c, 100)
	if err != nil {
		return err
	}
	f, err := webhookFilter(c.Query("source"), c.Query("status"), limit, c.Query("before"))
	if err == nil {
		err = webhookMore(queryOf(c), &f)
	}
	if err != nil {
		return err
	}
	if ref := c.Query("order_ref"); ref != "" {
		out, err := s.orderRequests(c, strings.Clone(ref), f.Source, f.Status, f.Limit)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"webhooks": out, "next": nil})
	}
	list, err := s.p.Webhooks.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]webhookJSON, len(list))
	for i, e := range list {
		out[i] = webhookView(e, false)
	}
	var next *string
	if len(list) == f.Limit {
		n := strconv.FormatInt(list[len(list)-1].ID, 10)
		next = &n
	}
	return c.JSON(fiber.Map{"webhooks": out, "next": next})
}

func webhookID(c *fiber.Ctx) (int64, error) {
	raw := param(c, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, domain.Errorf(domain.EINVALID, "webhook id %q is not a number", raw)
	}
	return id, nil
}

// webhook returns one stored webhook with its headers and body.
func (s *Server) webhook(ctx context.Context, id int64) (domain.InboxEntry, error) {
	e, err := s.p.Webhooks.Get(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return e, domain.Errorf(domain.ENOTFOUND, "no webhook %d", id)
	}
	return e, err
}

// getWebhook is GET /api/v1/webhooks/:id, with the headers and body as received.
func (s *Server) getWebhook(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	e, err := s.webhook(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(webhookView(e, true))
}

// replay applies a failed, rejected, ignored or stuck webhook again, through the
// same path as the first time: the API's replay and the dashboard's Replay button.
func (s *Server) replay(ctx context.Context, id int64) (domain.InboxEntry, error) {
	e, err := s.p.Webhooks.Requeue(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return e, domain.Errorf(domain.ENOTFOUND, "no webhook %d", id)
	}
	if err != nil {
		return e, err
	}
	src, ok := s.p.Sources.Source(e.Source)
	if !ok {
		src = domain.Source{ID: e.Source, Provider: e.Provider}
	}
	s.enqueue(ctx, e.ID, src)
	return e, nil
}

// replayWebhook is POST /api/v1/webhooks/:id/replay.
func (s *Server) replayWebhook(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	e, err := s.replay(c.UserContext(), id)
	if err != nil {
		return err
	}
	s.audit(c, tokenActor, "replay", "webhook "+strconv.FormatInt(id, 10), "")
	return c.Status(http.StatusAccepted).JSON(webhookView(e, false))
}

func base64Encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
