package jobs

import (
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// ServerParams shape the worker's Asynq server.
type ServerParams struct {
	Concurrency     int
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
}

// NewServer returns the worker's Asynq server: the queues' Weights, RetryDelay,
// postponed tasks that spend no retry (IsFailure), and a short poll when the
// queues run empty.
func NewServer(r asynq.RedisConnOpt, p ServerParams) *asynq.Server {
	return asynq.NewServer(r, asynq.Config{
		Concurrency:     p.Concurrency,
		Queues:          Weights,
		Logger:          Logger{L: p.Logger},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: p.ShutdownTimeout,
		RetryDelayFunc:  RetryDelay,
		IsFailure:       IsFailure, // a postponed task spends no retry
		// How long an idle worker waits before asking Redis again (default 1s): the
		// floor of end-to-end latency when the queue runs empty.
		TaskCheckInterval: 100 * time.Millisecond,
	})
}
