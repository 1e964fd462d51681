package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// TestRetentionBelowAProvidersRetryWindowStopsTheStart: a retention shorter than a
// configured provider's retry window would let a late duplicate be applied again,
// so every role refuses to start and names the key.
func TestRetentionBelowAProvidersRetryWindowStopsTheStart(t *testing.T) {
	t.Parallel()
	env := validEnv(t)
	env["TRADEWIND_RETENTION"] = "48h"
	cfg, err := LoadConfig(envMap(env), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention != 48*time.Hour {
		t.Fatalf("Retention = %s, want 48h", cfg.Retention)
	}
	sources := map[string]domain.Source{"acme-stripe": {ID: "acme-stripe", Provider: "stripe", Secrets: []string{"whsec_x"}}}
	m := NewMain(cfg, sources, slog.New(slog.NewTextHandler(io.Discard, nil)))
	err = m.Run(context.Background(), Roles{Work: true})
	if err == nil || !strings.Contains(err.Error(), "TRADEWIND_RETENTION is 48h0m0s, shorter than stripe's retry window") {
		t.Fatalf("Run = %v, want a config error naming TRADEWIND_RETENTION and Stripe's window", err)
	}
	_ = m.Close(context.Background())

	def, err := LoadConfig(envMap(validEnv(t)), false)
	if err != nil || def.Retention != 720*time.Hour {
		t.Fatalf("default Retention = %s (%v), want 720h", def.Retention, err)
	}
}
