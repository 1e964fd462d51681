package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tradewind/tradewind/internal/testenv"
)

// TestOneReserverForTheAPIAndTheExpiryTask: the reservation API (serve) and the
// expiry task (work) reserve through one Reserver, which Close shuts down once,
// whatever the roles. It used to be two, the worker's never shut down.
func TestOneReserverForTheAPIAndTheExpiryTask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		roles Roles
		want  bool
	}{
		{name: "serve", roles: Roles{Serve: true}, want: true},
		{name: "work", roles: Roles{Work: true}, want: true},
		{name: "serve and work", roles: Roles{Serve: true, Work: true}, want: true},
		{name: "schedule", roles: Roles{Schedule: true}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tt.roles.Migrate = true
			m := NewMain(e.config(), testSources(), testLogger())
			if err := m.Run(context.Background(), tt.roles); err != nil {
				m.Close(context.Background())
				t.Fatalf("Run: %v", err)
			}
			got := m.reserver != nil
			if tt.roles.Serve {
				// Close right after Run can race Fiber's Listener starting (the serve
				// path's own issue): let the server answer first.
				testenv.Eventually(t, 10*time.Second, func() (bool, string) {
					resp, err := http.Get("http://" + m.Addr() + "/healthz")
					if err == nil {
						resp.Body.Close()
					}
					return err == nil, "GET /healthz answered"
				})
			}
			if err := m.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
			if got != tt.want {
				t.Fatalf("a Reserver was built: %v, want %v", got, tt.want)
			}
		})
	}
}
