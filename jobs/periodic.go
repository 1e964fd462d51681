package jobs

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Periodic wraps the handler of a task the scheduler queues every Interval (the inbox
// sweep, the reservation expiry, the retention prune) and makes two promises:
//
//   - Once per window. Every `schedule` replica queues the task every Interval; the
//     first copy to run in a window (Unix time divided by Interval) claims it in Redis
//     with SET NX, and the other copies of that window do nothing.
//   - Never retried, never archived. An error is logged and the task completes: the
//     next window is the retry. These tasks carry a fixed task id (so that queued
//     copies do not pile up) and MaxRetry(0); a failed one was archived, kept its id,
//     and Asynq refused every later copy with that id, so one failed sweep (a 3 s
//     PostgreSQL outage, found by the chaos suite) stopped the sweeper for good.
type Periodic struct {
	Type     string
	Interval time.Duration
	Redis    redis.Cmdable // nil: no claim, every copy runs
	Handler  asynq.Handler
	Now      func() time.Time
	Logger   *slog.Logger
}

// ProcessTask implements asynq.Handler. It always returns nil.
func (p *Periodic) ProcessTask(ctx context.Context, t *asynq.Task) error {
	if p.Redis != nil && p.Interval > 0 {
		window := p.Now().UnixNano() / int64(p.Interval)
		key := "tradewind:cron:" + p.Type + ":" + strconv.FormatInt(window, 10)
		claimed, err := p.Redis.SetNX(ctx, key, 1, 2*p.Interval).Result()
		switch {
		case err != nil:
			// The task came from Redis a moment ago; running twice is harmless, not running is not.
			p.Logger.Warn("could not claim the periodic task's window; running it anyway",
				slog.String("task", p.Type), slog.String("error", err.Error()))
		case !claimed:
			p.Logger.Debug("periodic task skipped: it ran in this window", slog.String("task", p.Type), slog.Int64("window", window))
			return nil // another copy ran in this window
		}
		p.Logger.Debug("periodic task runs", slog.String("task", p.Type), slog.Int64("window", window))
	}
	if err := p.Handler.ProcessTask(ctx, t); err != nil {
		p.Logger.Warn("periodic task failed; the next window retries it",
			slog.String("task", p.Type), slog.String("error", err.Error()))
	}
	return nil
}
