package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/domain"
)

// TypeExpireReservations releases checkout reservations whose time has passed.
// (They stop counting as soon as they expire; this gives their units back to
// on-hand stock for good.)
const TypeExpireReservations = "reservations:expire"

// NewExpireReservationsTask returns the expiry task; its fixed id keeps
// concurrent schedulers from queuing more than one at a time.
func NewExpireReservationsTask() *asynq.Task {
	return asynq.NewTask(TypeExpireReservations, nil, asynq.TaskID("reservations-expire"), asynq.Queue(QueueCritical),
		asynq.MaxRetry(0), asynq.Timeout(time.Minute))
}

// ExpireReservations is the handler for TypeExpireReservations.
type ExpireReservations struct {
	Reservations domain.Reservations
	Now          func() time.Time
	Logger       *slog.Logger
}

// ProcessTask implements asynq.Handler.
func (h *ExpireReservations) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Reservations.Expire(ctx, h.Now(), 1000)
	if n > 0 {
		h.Logger.Info("released expired reservations", slog.Int("units", n))
	}
	return err
}
