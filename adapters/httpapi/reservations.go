package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

// DefaultReservationTTL is how long a reservation holds stock without ttl_seconds.
const DefaultReservationTTL = 10 * time.Minute

type reserveRequest struct {
	SKU        string `json:"sku" validate:"required,max=200"`
	Quantity   int64  `json:"quantity" validate:"required,min=1,max=100000"`
	OrderRef   string `json:"order_ref" validate:"max=200"`
	TTLSeconds int64  `json:"ttl_seconds" validate:"omitempty,min=1,max=86400"`
}

// createReservation is POST /api/v1/reservations {sku, quantity, order_ref?, ttl_seconds?}.
// With an Idempotency-Key header, a retry returns the first answer instead of reserving again.
func (s *Server) createReservation(c *fiber.Ctx) error {
	var req reserveRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	key := strings.Clone(c.Get("Idempotency-Key")) // the batch may outlive this request's buffers
	if len(key) > 200 {
		return domain.Errorf(domain.EINVALID, "Idempotency-Key: at most 200 characters")
	}
	ttl := DefaultReservationTTL
	if req.TTLSeconds > 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	r, replayed, err := s.p.Reservations.Reserve(c.UserContext(), domain.ReservationRequest{
		SKU: req.SKU, Quantity: req.Quantity, OrderRef: req.OrderRef, TTL: ttl, IdempotencyKey: key,
	})
	if err != nil {
		return err
	}
	if replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	return c.Status(http.StatusCreated).JSON(r)
}

// deleteReservation is DELETE /api/v1/reservations/:id.
func (s *Server) deleteReservation(c *fiber.Ctx) error {
	r, err := s.p.Reservations.Release(c.UserContext(), param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(r)
}
