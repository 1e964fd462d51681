package jobs

import (
	"context"
	"fmt"
	"sync"

	"github.com/hibiken/asynq"
)

// Worker gives Asynq's server the Start(ctx)/Shutdown(ctx) shape of Tradewind's
// other long-lived components (the inbox batcher, the reserver), so that Main
// starts and stops them all alike.
type Worker struct {
	Server  *asynq.Server
	Handler asynq.Handler // the mux of task types
	stop    stopOnce
}

// Start starts processing tasks with Handler. ctx bounds the start only: the
// worker runs until Shutdown.
func (w *Worker) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.Server.Start(w.Handler); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks and waits for active ones, up to the server's own
// ShutdownTimeout (Asynq puts back what is still running then), or until ctx
// ends; a later call waits for the same shutdown.
func (w *Worker) Shutdown(ctx context.Context) error {
	return w.stop.wait(ctx, "worker", w.Server.Shutdown)
}

// Scheduler gives Asynq's scheduler the same Start(ctx)/Shutdown(ctx) shape.
// Register the schedules on the asynq.Scheduler before Start.
type Scheduler struct {
	Scheduler *asynq.Scheduler
	stop      stopOnce
}

// Start starts queueing the registered tasks on their schedules. ctx bounds the
// start only.
func (s *Scheduler) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.Scheduler.Start(); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	return nil
}

// Shutdown stops the schedules, waiting no longer than ctx allows.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	return s.stop.wait(ctx, "scheduler", s.Scheduler.Shutdown)
}

// stopOnce runs a stop function that takes no context once, and lets each
// caller wait for it within its own ctx.
type stopOnce struct {
	once sync.Once
	done chan struct{}
}

func (s *stopOnce) wait(ctx context.Context, what string, stop func()) error {
	s.once.Do(func() {
		s.done = make(chan struct{})
		go func() {
			defer close(s.done)
			stop()
		}()
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the %s did not stop in time: %w", what, ctx.Err())
	}
}
