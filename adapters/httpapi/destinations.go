package httpapi

import (
	"context"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

// Downstream is what the destinations and deliveries endpoints need.
type Downstream struct {
	// Destinations are the configured destinations, in the sources file's order.
	Destinations []domain.Destination
	States       domain.Destinations
	Deliveries   domain.Deliveries
	// Published lists what a stock destination published per SKU.
	Published func(ctx context.Context, destination string, limit int) ([]domain.PublishedStock, error)
	// Counts counts the deliveries not delivered, by destination and status, for
	// the dashboard; nil shows none.
	Counts func(ctx context.Context) (map[string]map[domain.DeliveryStatus]int, error)
	// PublishedOf lists what each stock destination published of one SKU, for
	// the dashboard's SKU page; nil shows none.
	PublishedOf func(ctx context.Context, sku string) ([]domain.PublishedStock, error)
	// Enqueue queues a delivery's task. A failure is logged, never answered: the
	// row says pending and the sweeper queues it later.
	Enqueue func(ctx context.Context, id int64) error
}

type destinationJSON struct {
	ID             string `json:"id"`
	Kind           string `json:"kind"`
	Enabled        bool   `json:"enabled"`
	DisabledReason string `json:"disabled_reason"`
	Breaker        string `json:"breaker"`
}

// destinations returns each configured destination with its run-time state.
func (s *Server) destinations(ctx context.Context) ([]destinationJSON, error) {
	out := []destinationJSON{}
	d := s.p.Downstream
	if d == nil || len(d.Destinations) == 0 {
		return out, nil
	}
	ids := make([]string, len(d.Destinations))
	for i, dest := range d.Destinations {
		ids[i] = dest.ID
	}
	states, err := d.States.States(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, dest := range d.Destinations {
		st := states[dest.ID]
		out = append(out, destinationJSON{ID: dest.ID, Kind: dest.Kind, Enabled: st.Enabled, DisabledReason: st.DisabledReason, Breaker: st.Breaker})
	}
	return out, nil
}

// listDestinations is GET /api/v1/destinations.
func (s *Server) listDestinations(c *fiber.Ctx) error {
	list, err := s.destinations(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"destinations": list})
}

// enableDestination is POST /api/v1/destinations/:id/enable: a destination a
// 410 disabled takes deliveries again; its waiting deliveries are queued.
func (s *Server) enableDestination(c *fiber.Ctx) error {
	id := param(c, "id")
	ctx := c.UserContext()
	if err := s.enable(ctx, id); err != nil {
		return err
	}
	list, err := s.destinations(ctx)
	if err != nil {
		return err
	}
	for _, x := range list {
		if x.ID == id {
			return c.JSON(x)
		}
	}
	return c.JSON(fiber.Map{"id": id})
}

// enable enables destination id and queues its waiting deliveries: what the API
// and the dashboard's Enable button do. Returns ENOTFOUND for an id that is not
// configured.
func (s *Server) enable(ctx context.Context, id string) error {
	dest, ok := s.destination(id)
	if !ok {
		return domain.Errorf(domain.ENOTFOUND, "no destination %q in the sources file's destinations section", id)
	}
	d := s.p.Downstream
	if err := d.States.Enable(ctx, dest.ID); err != nil {
		return err
	}
	for _, status := range []domain.DeliveryStatus{domain.DeliveryFailed, domain.DeliveryPending} {
		if _, err := domain.RetryAll(ctx, d.Deliveries, dest.ID, status, timeZero, timeZero, func(page []domain.Outbound) error {
			s.enqueueDeliveries(ctx, page)
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) destination(id string) (domain.Destination, bool) {
	if s.p.Downstream == nil {
		return domain.Destination{}, false
	}
	for _, d := range s.p.Downstream.Destinations {
		if d.ID == id {
			return d, true
		}
	}
	return domain.Destination{}, false
}

// enqueueDeliveries queues each delivery's task; failures are left to the sweeper.
func (s *Server) enqueueDeliveries(ctx context.Context, list []domain.Outbound) {
	for _, o := range list {
		if err := s.p.Downstream.Enqueue(ctx, o.ID); err != nil {
			s.p.Logger.Warn("could not queue a delivery; the sweeper will", slog.Int64("delivery_id", o.ID), slog.String("error", err.Error()))
			return
		}
	}
}

// publishedStock is GET /api/v1/destinations/:id/published: what a stock
// destination last published of each SKU and when the channel confirmed it.
func (s *Server) publishedStock(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, ok := s.destination(id); !ok {
		return domain.Errorf(domain.ENOTFOUND, "no destination %q in the sources file's destinations section", id)
	}
	limit := c.QueryInt("limit", 1000)
	if limit < 1 || limit > 10000 {
		return domain.Errorf(domain.EINVALID, "limit: must be between 1 and 10000")
	}
	list, err := s.p.Downstream.Published(c.UserContext(), id, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"published": list})
}
