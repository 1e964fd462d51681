package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/adapters/httpapi"
	"github.com/tradewind/tradewind/adapters/hubspot"
	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/webhookdest"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

// downstream is the wiring of destinations: the delivery handler, the outbox's
// dispatcher and sweeper.
type downstream struct {
	sweeper *jobs.SweepDeliveries
	cancel  context.CancelFunc
}

func (m *Main) destination(id string) (domain.Destination, bool) {
	for _, d := range m.Destinations {
		if d.ID == id {
			return d, true
		}
	}
	return domain.Destination{}, false
}

// downstreamAPI is what the HTTP API serves of destinations and deliveries.
func (m *Main) downstreamAPI() *httpapi.Downstream {
	return &httpapi.Downstream{
		Destinations: m.Destinations, States: &postgres.Destinations{DB: m.DB, Now: m.Now},
		Deliveries:  &postgres.Deliveries{DB: m.DB, Now: m.Now},
		Published:   (&postgres.PublishedStock{DB: m.DB}).List,
		Counts:      (&postgres.DownstreamReads{DB: m.DB}).DeliveryCounts,
		PublishedOf: (&postgres.DownstreamReads{DB: m.DB}).PublishedOf,
		Enqueue: func(ctx context.Context, id int64) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := jobs.EnqueueDelivery(ctx, m.client, m.inspector, id)
			return err
		},
	}
}

// startDownstream registers the delivery handlers on the worker's mux and
// starts the dispatcher; it returns the applier the inbox task is to use.
func (m *Main) startDownstream(mux *asynq.ServeMux, applier domain.Applier) domain.Applier {
	deliveries := &postgres.Deliveries{DB: m.DB, Now: m.Now}
	m.downstream.sweeper = &jobs.SweepDeliveries{Outbox: deliveries, Queue: m.client, Tasks: m.inspector,
		Grace: m.Config.SweepGrace, Now: m.Now, Logger: m.Logger,
		Delay: func(ref domain.DeliveryRef) time.Duration {
			if d, ok := m.destination(ref.Destination); ok && d.Coalesces() {
				return d.Debounce
			}
			return 0
		}}
	mux.Handle(jobs.TypeSweepDeliveries, m.periodic(jobs.TypeSweepDeliveries, m.downstream.sweeper))
	mux.Handle(jobs.TypeDeliver, &jobs.Deliver{
		Deliveries: deliveries, Destinations: &postgres.Destinations{DB: m.DB, Now: m.Now},
		Destination: m.destination, Sender: m.sender(), Now: m.Now, Logger: m.Logger,
	})
	if len(m.Destinations) == 0 {
		return applier
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.downstream.cancel = cancel
	go m.downstream.sweeper.Run(ctx, time.Second)
	m.Logger.Info("delivering downstream", slog.Int("destinations", len(m.Destinations)))
	return jobs.KickApplier{Applier: applier, Kick: m.downstream.sweeper.Kick}
}

// sender returns the sender of each destination kind.
func (m *Main) sender() func(kind string) (domain.Sender, bool) {
	render := &webhookdest.Renderer{Orders: &postgres.Orders{DB: m.DB}, Conflicts: &postgres.Conflicts{DB: m.DB},
		Inventory: &postgres.Inventory{DB: m.DB, OversellPolicy: m.Config.OversellPolicy, Grace: m.Config.ConflictGrace, Now: m.Now}}
	senders := map[string]domain.Sender{
		domain.DestinationWebhook: &webhookdest.Sender{Render: render},
		domain.DestinationHubSpot: &hubspot.Sender{Render: render},
		domain.DestinationShopifyInventory: &shopify.InventoryPusher{Stock: render.Inventory,
			Published: &postgres.PublishedStock{DB: m.DB}, Now: m.Now},
	}
	return func(kind string) (domain.Sender, bool) {
		s, ok := senders[kind]
		return s, ok
	}
}

// stockDestinations are the destinations whose stores the reconciliation
// compares with what Tradewind publishes.
func (m *Main) stockDestinations() []domain.Destination {
	var out []domain.Destination
	for _, d := range m.Destinations {
		if d.Kind == domain.DestinationShopifyInventory {
			out = append(out, d)
		}
	}
	return out
}

// stockChannel returns the sender of a stock destination kind as the reader of
// its stores.
func (m *Main) stockChannel() func(kind string) (domain.StockChannel, bool) {
	senders := m.sender()
	return func(kind string) (domain.StockChannel, bool) {
		s, ok := senders(kind)
		if !ok {
			return nil, false
		}
		c, ok := s.(domain.StockChannel)
		return c, ok
	}
}

// kickDeliveries asks this process's dispatcher, when it has one, to queue new
// deliveries now; otherwise the schedule role's sweep queues them.
func (m *Main) kickDeliveries() {
	if m.downstream.sweeper != nil {
		m.downstream.sweeper.Kick()
	}
}
