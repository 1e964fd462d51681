// Package lifecycle starts a process's long-lived components (the reserver, the
// worker, the scheduler, the ingress's inbox batcher, the HTTP server) and shuts
// them down in reverse order.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
)

// Component is the shape of every long-lived part of a process: Start takes
// what it needs to run until Shutdown; ctx bounds the start only.
type Component interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Group holds the components started, in order. It is not safe for concurrent use.
type Group struct {
	running []named
}

type named struct {
	name string
	c    Component
}

// Start starts c and, once it runs, leaves it to Shutdown.
func (g *Group) Start(ctx context.Context, name string, c Component) error {
	if err := c.Start(ctx); err != nil {
		return err
	}
	g.running = append(g.running, named{name, c})
	return nil
}

// Shutdown shuts each started component down, in reverse order of start, and
// returns their errors joined, each named.
func (g *Group) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(g.running) - 1; i >= 0; i-- {
		if err := g.running[i].c.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", g.running[i].name, err))
		}
	}
	return errors.Join(errs...)
}
