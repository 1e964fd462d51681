package jobs

import "sync"

// lanes is the group call of ApplyBatcher and AttemptBatcher: requests from the
// tasks running at once queue together, and each lane takes up to maxBatch of
// them at a time and runs them as one batch. There is no timer: a request that
// finds a lane free starts one at once (alone, when the worker is quiet); those
// that arrive while every lane is busy leave together in the next batch.
// Goroutines run only while requests wait, so there is nothing to start or shut
// down.
type lanes[T any] struct {
	mu      sync.Mutex
	queue   []T
	running int
}

// add queues items and starts a lane, unless maxInFlight are running already;
// run is called with each batch, in a lane's goroutine.
func (l *lanes[T]) add(items []T, maxInFlight, maxBatch int, run func([]T)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue = append(l.queue, items...)
	if l.running < maxInFlight {
		l.running++
		go l.drain(max(maxBatch, 1), run)
	}
}

// queued returns how many requests wait for a lane.
func (l *lanes[T]) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// drain runs batches from the queue until it is empty.
func (l *lanes[T]) drain(maxBatch int, run func([]T)) {
	for {
		l.mu.Lock()
		n := min(len(l.queue), maxBatch)
		if n == 0 {
			l.running--
			l.mu.Unlock()
			return
		}
		batch := make([]T, n)
		copy(batch, l.queue)
		clear(l.queue[:n]) // the batch holds them now; let the queue's array forget them
		l.queue = append(l.queue[:0], l.queue[n:]...)
		l.mu.Unlock()
		run(batch)
	}
}
