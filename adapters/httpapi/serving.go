package httpapi

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Serving is a Server serving on a Listener, as a component: Start serves
// until Shutdown. Done is closed when it has stopped serving; Err says why.
type Serving struct {
	Server   *Server
	Listener *Listener
	// ShutdownTimeout bounds Shutdown's wait for in-flight requests (0: ctx only).
	ShutdownTimeout time.Duration

	done chan struct{}
	err  error
}

// Start serves on the Listener until Shutdown.
func (s *Serving) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.err = s.Server.App().Listener(s.Listener)
	}()
	return nil
}

// Done is closed when the server has stopped serving (after Shutdown, or on a
// failure it cannot pass); nil before Start.
func (s *Serving) Done() <-chan struct{} { return s.done }

// Err is why the server stopped: nil after Shutdown. Read it after Done.
func (s *Serving) Err() error { return s.err }

// Shutdown stops accepting requests and waits for in-flight ones, for no longer
// than ShutdownTimeout: what follows (the batcher's last commit, the worker)
// needs some of ctx too.
func (s *Serving) Shutdown(ctx context.Context) error {
	if s.ShutdownTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.ShutdownTimeout)
		defer cancel()
	}
	// Shutdown closes the listener only if Serve had taken it; closing it here
	// too ends a Serve that was only starting. Listener.Close is idempotent.
	err := errors.Join(s.Server.Shutdown(ctx), s.Listener.Close())
	select {
	case <-s.done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("the HTTP server did not stop in time: %w", ctx.Err()))
	}
	return err
}
