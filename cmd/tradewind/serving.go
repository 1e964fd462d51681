package main

import (
	"context"
	"errors"
	"fmt"
)

// serving is Main's HTTP server as a component: Start serves on Main's listener
// until Shutdown.
type serving struct{ m *Main }

func (s *serving) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m := s.m
	m.serveDone = make(chan struct{})
	srv, lis := m.server, m.listener
	go func() {
		defer close(m.serveDone)
		m.serveErr = srv.App().Listener(lis)
	}()
	return nil
}

// Shutdown stops accepting requests and waits for in-flight ones, for no longer
// than TRADEWIND_SHUTDOWN_TIMEOUT: what follows (the batcher's last commit, the
// worker) needs some of ctx too.
func (s *serving) Shutdown(ctx context.Context) error {
	m := s.m
	if m.Config.ShutdownTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.Config.ShutdownTimeout)
		defer cancel()
	}
	// Shutdown closes the listener only if Serve had taken it; closing it here
	// too ends a Serve that was only starting. Listener.Close is idempotent.
	err := errors.Join(m.server.Shutdown(ctx), m.listener.Close())
	select {
	case <-m.serveDone:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("the HTTP server did not stop in time: %w", ctx.Err()))
	}
	return err
}
