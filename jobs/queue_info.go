package jobs

import (
	"context"
	"time"
)

// QueueLatencies is the age of the oldest pending task in each queue (0 when
// none waits): for the metrics and the dashboard's overview.
func QueueLatencies(_ context.Context, q QueueInspector) (map[string]time.Duration, error) {
	qs, err := q.Queues()
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Duration, len(qs))
	for _, name := range qs {
		info, err := q.GetQueueInfo(name)
		if err != nil {
			return nil, err
		}
		out[name] = info.Latency
	}
	return out, nil
}

// QueueArchived is the number of tasks Asynq archived (gave up on) in each queue.
func QueueArchived(_ context.Context, q QueueInspector) (map[string]int, error) {
	qs, err := q.Queues()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(qs))
	for _, name := range qs {
		info, err := q.GetQueueInfo(name)
		if err != nil {
			return nil, err
		}
		out[name] = info.Archived
	}
	return out, nil
}
