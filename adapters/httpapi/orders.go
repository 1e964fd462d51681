package httpapi

import (
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

type lineJSON struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

type orderJSON struct {
	Ref           string                `json:"ref"`
	Status        domain.OrderStatus    `json:"status"`
	PaymentStatus domain.PaymentStatus  `json:"payment_status"`
	Currency      string                `json:"currency"`
	Total         int64                 `json:"total"`
	Lines         []lineJSON            `json:"lines"`
	Events        []domain.AppliedEvent `json:"events"`
	Conflicts     []domain.Conflict     `json:"conflicts"`
	CreatedAt     time.Time             `json:"created_at"`
	UpdatedAt     time.Time             `json:"updated_at"`
}

// order returns an order, its timeline and its conflicts. When Tradewind has
// applied nothing naming the order, the error says what it received that names
// it ("2 webhooks name it: 1 queued, 1 rejected"), if anything.
func (s *Server) order(c *fiber.Ctx, ref string) (domain.Order, []domain.AppliedEvent, []domain.Conflict, error) {
	ctx := c.UserContext()
	o, events, err := s.p.Orders.Order(ctx, ref)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			if named := s.namedBy(c, ref); named != "" {
				return o, nil, nil, domain.Errorf(domain.ENOTFOUND,
					"no order %q is applied yet, but %s; see GET /api/v1/webhooks?order_ref=%s", ref, named, url.QueryEscape(ref))
			}
			return o, nil, nil, domain.Errorf(domain.ENOTFOUND, "no order %q: Tradewind has received no event naming it", ref)
		}
		return o, nil, nil, err
	}
	if events == nil {
		events = []domain.AppliedEvent{}
	}
	conflicts, err := s.p.Conflicts.List(ctx, domain.ConflictFilter{OrderRef: o.Ref, Limit: 100})
	return o, events, conflicts, err
}

// getOrder is GET /api/v1/orders/:ref.
func (s *Server) getOrder(c *fiber.Ctx) error {
	o, events, conflicts, err := s.order(c, param(c, "ref"))
	if err != nil {
		return err
	}
	lines := make([]lineJSON, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = lineJSON(l)
	}
	return c.JSON(orderJSON{
		Ref: o.Ref, Status: o.DisplayStatus(), PaymentStatus: o.PaymentStatus, Currency: o.Currency, Total: o.Total,
		Lines: lines, Events: events, Conflicts: conflicts, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	})
}
