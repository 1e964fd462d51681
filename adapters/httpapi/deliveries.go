package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

var timeZero time.Time

type deliveryJSON struct {
	ID             int64                 `json:"id"`
	Destination    string                `json:"destination"`
	EventType      domain.DownstreamType `json:"event_type"`
	WebhookID      string                `json:"webhook_id"`
	Status         domain.DeliveryStatus `json:"status"`
	Attempts       int                   `json:"attempts"`
	LastStatusCode int                   `json:"last_status_code"`
	LastError      string                `json:"last_error"`
	NextAttemptAt  *time.Time            `json:"next_attempt_at"`
	CreatedAt      time.Time             `json:"created_at"`
	OrderRef       string                `json:"order_ref,omitempty"`
	SKU            string                `json:"sku,omitempty"`
	AttemptList    []attemptJSON         `json:"-"`
}

type attemptJSON struct {
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"`
	LatencyMS  int64     `json:"latency_ms"`
	Error      string    `json:"error"`
}

func deliveryView(o domain.Outbound) deliveryJSON {
	v := deliveryJSON{ID: o.ID, Destination: o.Destination, EventType: o.Type, WebhookID: o.WebhookID, Status: o.Status,
		Attempts: o.Attempts, LastStatusCode: o.LastStatusCode, LastError: o.LastError, CreatedAt: o.CreatedAt,
		OrderRef: o.OrderRef, SKU: o.SKU}
	if !o.NextAttemptAt.IsZero() && o.Status == domain.DeliveryFailed {
		t := o.NextAttemptAt
		v.NextAttemptAt = &t
	}
	return v
}

// deliveryFilter checks the list filters.
func (s *Server) deliveryFilter(c *fiber.Ctx) (domain.DeliveryFilter, error) {
	f := domain.DeliveryFilter{Destination: c.Query("destination"), OrderRef: c.Query("order_ref"), Limit: c.QueryInt("limit", 100)}
	if f.Destination != "" {
		if _, ok := s.destination(f.Destination); !ok {
			return f, domain.Errorf(domain.EINVALID, "destination: %q is not a configured destination", f.Destination)
		}
	}
	if st := c.Query("status"); st != "" {
		status, err := domain.ParseDeliveryStatus(st)
		if err != nil {
			return f, err
		}
		f.Status = status
	}
	if f.Limit < 1 || f.Limit > 500 {
		return f, domain.Errorf(domain.EINVALID, "limit: must be between 1 and 500")
	}
	if a := c.Query("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 1 {
			return f, domain.Errorf(domain.EINVALID, "after: %q is not a delivery id; pass the id of the last delivery of the previous page", a)
		}
		f.After = n
	}
	return f, nil
}

// listDeliveries is GET /api/v1/deliveries?destination=&status=&order_ref=&limit=&after=,
// newest first; after pages on from the last id of the previous page.
func (s *Server) listDeliveries(c *fiber.Ctx) error {
	f, err := s.deliveryFilter(c)
	if err != nil {
		return err
	}
	out := []deliveryJSON{}
	if s.p.Downstream != nil {
		list, err := s.p.Downstream.Deliveries.List(c.UserContext(), f)
		if err != nil {
			return err
		}
		for _, o := range list {
			out = append(out, deliveryView(o))
		}
	}
	return c.JSON(fiber.Map{"deliveries": out})
}

func deliveryID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(param(c, "id"), 10, 64)
	if err != nil || id < 1 {
		return 0, domain.Errorf(domain.EINVALID, "delivery id %q is not a number", param(c, "id"))
	}
	return id, nil
}

// getDelivery is GET /api/v1/deliveries/:id: the delivery and its attempts.
func (s *Server) getDelivery(c *fiber.Ctx) error {
	id, err := deliveryID(c)
	if err != nil {
		return err
	}
	if s.p.Downstream == nil {
		return domain.Errorf(domain.ENOTFOUND, "no delivery %d", id)
	}
	o, attempts, err := s.p.Downstream.Deliveries.Delivery(c.UserContext(), id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.Errorf(domain.ENOTFOUND, "no delivery %d", id)
	}
	if err != nil {
		return err
	}
	list := make([]attemptJSON, len(attempts))
	for i, a := range attempts {
		list[i] = attemptJSON{At: a.At, StatusCode: a.StatusCode, LatencyMS: a.Latency.Milliseconds(), Error: a.Error}
	}
	return c.JSON(struct {
		deliveryJSON
		Attempts []attemptJSON `json:"attempts"`
	}{deliveryView(o), list})
}

// retryDelivery is POST /api/v1/deliveries/:id/retry: queued again with its
// attempts counted from zero and the same webhook-id.
func (s *Server) retryDelivery(c *fiber.Ctx) error {
	id, err := deliveryID(c)
	if err != nil {
		return err
	}
	if s.p.Downstream == nil {
		return domain.Errorf(domain.ENOTFOUND, "no delivery %d", id)
	}
	o, err := s.p.Downstream.Deliveries.Retry(c.UserContext(), id)
	if err != nil {
		return err
	}
	s.enqueueDeliveries(c.UserContext(), []domain.Outbound{o})
	return c.Status(http.StatusAccepted).JSON(deliveryView(o))
}

type bulkRetryRequest struct {
	Destination string     `json:"destination" validate:"required"`
	Status      string     `json:"status" validate:"required"`
	Since       *time.Time `json:"since"`
	Until       *time.Time `json:"until"`
}

// retryDeliveries is POST /api/v1/deliveries/retry {destination, status, since?, until?}:
// every matching delivery (created in [since, until)) queued again → 202 {queued}.
func (s *Server) retryDeliveries(c *fiber.Ctx) error {
	var req bulkRetryRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if err := check(req); err != nil {
		return err
	}
	var since, until time.Time
	if req.Since != nil {
		since = *req.Since
	}
	if req.Until != nil {
		until = *req.Until
	}
	n, err := s.retryMatching(c.UserContext(), req.Destination, req.Status, since, until)
	if err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(fiber.Map{"queued": n})
}

// retryMatching queues again every delivery of destination in status created in
// [since, until) (zero times: open) and returns how many: what the API and the
// dashboard's Retry all matching do. Returns EINVALID for a destination that is
// not configured, a status that is not one, or an empty window.
func (s *Server) retryMatching(ctx context.Context, destination, status string, since, until time.Time) (int, error) {
	if _, ok := s.destination(destination); !ok {
		return 0, domain.Errorf(domain.EINVALID, "destination: %q is not a configured destination", destination)
	}
	st, err := domain.ParseDeliveryStatus(status)
	if err != nil {
		return 0, err
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return 0, domain.Errorf(domain.EINVALID, "until must be after since")
	}
	return domain.RetryAll(ctx, s.p.Downstream.Deliveries, destination, st, since, until, func(page []domain.Outbound) error {
		s.enqueueDeliveries(ctx, page)
		return nil
	})
}
