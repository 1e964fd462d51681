package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Load shedding: when the workers lag too far behind (too many tasks waiting in
// the queues), the ingress answers 503 with Retry-After rather than pile more
// work on. Providers retry, so nothing is lost; it waits at the provider.

const (
	// depthMaxAge is how old the cached queue depth may be before it is read again.
	depthMaxAge = time.Second
	// shedRetryAfter is the wait suggested to a provider while the queue drains.
	shedRetryAfter = 10 * time.Second
)

// shedder caches the queue depth. The zero value is ready to use. Requests never
// wait on Redis: a request that finds the cached depth stale starts one
// background read and goes on with the value it has.
type shedder struct {
	mu         sync.Mutex
	depth      int
	readAt     time.Time
	refreshing bool
}

// overloaded reports whether webhooks should be shed now, and the depth seen.
func (s *Server) overloaded() (bool, int) {
	if s.p.ShedQueueDepth <= 0 || s.p.Backlog == nil {
		return false, 0
	}
	now := s.p.Now()
	sh := &s.shed
	sh.mu.Lock()
	if !sh.refreshing && (sh.readAt.IsZero() || now.Sub(sh.readAt) >= depthMaxAge || now.Before(sh.readAt)) {
		sh.refreshing = true
		go s.readDepth()
	}
	depth := sh.depth
	sh.mu.Unlock()
	return depth > s.p.ShedQueueDepth, depth
}

// readDepth reads the queue depth into the cache. When it cannot be read (Redis
// is down), the depth counts as 0: webhooks are still stored, and the sweeper
// queues them once Redis is back, so there is nothing to shed for.
func (s *Server) readDepth() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	depth, err := s.p.Backlog.Backlog(ctx)
	if err != nil {
		s.p.Logger.Debug("could not read the queue depth for load shedding", slog.String("error", err.Error()))
		depth = 0
	}
	sh := &s.shed
	sh.mu.Lock()
	sh.depth, sh.readAt, sh.refreshing = depth, s.p.Now(), false
	sh.mu.Unlock()
}
