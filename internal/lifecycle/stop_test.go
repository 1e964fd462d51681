package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tradewind/tradewind/internal/lifecycle"
)

func TestWaitForStop(t *testing.T) {
	stopped := make(chan struct{})
	close(stopped)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		serveDone <-chan struct{}
		serveErr  error
		want      string // "" is nil
	}{
		{name: "signal", ctx: cancelled, want: ""},
		{name: "server stopped", ctx: context.Background(), serveDone: stopped, want: "the HTTP server stopped unexpectedly"},
		{name: "server failed", ctx: context.Background(), serveDone: stopped, serveErr: errors.New("accept: broken"),
			want: "the HTTP server stopped: accept: broken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			err := lifecycle.WaitForStop(tt.ctx, tt.serveDone, func() error { return tt.serveErr }, slog.New(slog.NewTextHandler(&log, nil)))
			if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
				t.Errorf("WaitForStop = %v, want %q", err, tt.want)
			}
			if !strings.Contains(log.String(), "shutting down") {
				t.Errorf("log %q does not say it is shutting down", log.String())
			}
		})
	}
}

// A failing close is logged, not returned: only running out of time is.
func TestCloseWithinLogsCloseErrors(t *testing.T) {
	var log bytes.Buffer
	err := lifecycle.CloseWithin(0, func(context.Context) error { return errors.New("worker: still busy") }, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Errorf("CloseWithin = %v, want nil", err)
	}
	if !strings.Contains(log.String(), "worker: still busy") {
		t.Errorf("log %q does not name close's error", log.String())
	}
}
