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
	deliver := &jobs.Deliver{
		Deliveries: deliveries, Destinations: &postgres.Destinations{DB: m.DB, Now: m.Now},
		Destination: func(id string) (domain.Destination, bool) { return domain.FindDestination(m.Destinations, id) },
		Sender:      m.sender(), Now: m.Now, Logger: m.Logger,
		// A destination that hangs holds at most half the worker until its breaker
		// opens: the rest keeps applying payments.
		MaxInFlight: max(1, m.Config.WorkerConcurrency/2),
	}
	mux.Handle(jobs.TypeDeliver, deliver)
	m.downstream.sweeper = &jobs.SweepDeliveries{Outbox: deliveries, Queue: m.client, Tasks: m.inspector,
		Grace: m.Config.SweepGrace, Now: m.Now, Logger: m.Logger, Budget: deliver.Budget,
		Delay: func(ref domain.DeliveryRef) time.Duration { return domain.DeliveryDelay(m.Destinations, ref) }}
	mux.Handle(jobs.TypeSweepDeliveries, m.periodic(jobs.TypeSweepDeliveries, m.downstream.sweeper))
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

// kickDeliveries asks this process's dispatcher, when it has one, to queue new
// deliveries now; otherwise the schedule role's sweep queues them.
func (m *Main) kickDeliveries() {
	if m.downstream.sweeper != nil {
		m.downstream.sweeper.Kick()
	}
}
