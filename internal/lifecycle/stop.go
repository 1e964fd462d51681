package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// WaitForStop waits for ctx to end (a signal: nil) or for the HTTP server to
// stop by itself, closing serveDone (an error with serveErr's, so that the
// process exits non-zero). A nil serveDone, a process that does not serve,
// waits for ctx only.
func WaitForStop(ctx context.Context, serveDone <-chan struct{}, serveErr func() error, logger *slog.Logger) error {
	select {
	case <-ctx.Done():
		logger.Info("shutting down: finishing in-flight requests and tasks")
		return nil
	case <-serveDone:
		err := errors.New("the HTTP server stopped unexpectedly")
		if serveErr() != nil {
			err = fmt.Errorf("the HTTP server stopped: %w", serveErr())
		}
		logger.Error("shutting down", slog.String("error", err.Error()))
		return err
	}
}

// CloseWithin calls close and gives up after shutdownTimeout
// (TRADEWIND_SHUTDOWN_TIMEOUT) plus a margin for the worker's own wait: the
// process then exits rather than hang. A failure of close itself is logged;
// only running out of time is returned.
func CloseWithin(shutdownTimeout time.Duration, close func(context.Context) error, logger *slog.Logger) error {
	timeout := shutdownTimeout + 5*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- close(ctx) }()
	select {
	case err := <-closed:
		if err != nil {
			logger.Warn("shutdown", slog.String("error", err.Error()))
		}
		return nil
	case <-ctx.Done():
		err := fmt.Errorf("shutdown did not finish within %s (TRADEWIND_SHUTDOWN_TIMEOUT + 5s); exiting anyway", timeout)
		logger.Error("shutdown", slog.String("error", err.Error()))
		return err
	}
}
