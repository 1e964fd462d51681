package main

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/internal/bench"
	"github.com/tradewind/tradewind/internal/slogjson"
	"github.com/tradewind/tradewind/reconcile"
)

// newBenchCommand is `tradewind bench`: its flags, mapped onto bench.Options.
func newBenchCommand(stdout, stderr io.Writer) *cobra.Command {
	var o bench.Options
	names := bench.Names()
	cmd := &cobra.Command{
		Use:       "bench [" + strings.Join(names, "|") + " ...]",
		Short:     "Measure ingest, flash-sale and end-to-end throughput against same-run baselines",
		Long:      bench.Usage(),
		Example:   bench.Examples,
		Args:      cobra.OnlyValidArgs,
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.DatabaseURL, _ = osEnv("TRADEWIND_DATABASE_URL")
			o.RedisURL, _ = osEnv("TRADEWIND_REDIS_URL")
			o.Start = startForBench(stderr)
			return bench.Run(cmd.Context(), stdout, stderr, args, o)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", 6*time.Second, "length of each measured window")
	f.IntSliceVar(&o.Concurrency, "concurrency", []int{8, 32, 64}, "ingest: requests (and baseline inserts) in flight at once")
	f.IntVar(&o.Senders, "senders", 32, "e2e: webhooks in flight at once")
	f.IntVar(&o.Events, "events", 4000, "e2e: webhooks in the burst that measures the applied rate")
	f.IntVar(&o.Workers, "workers", 20, "e2e: worker concurrency, for Tradewind and for the Asynq no-op baseline")
	f.IntVar(&o.NoopTasks, "noop-tasks", 30000, "e2e: no-op tasks the Asynq baseline processes")
	f.IntVar(&o.RedisDB, "redis-db", 15, "Redis database number to use and FLUSH")
	f.StringVar(&o.Database, "database", "tradewind_bench", "scratch PostgreSQL database to DROP and recreate")
	f.StringVar(&o.JSONPath, "json", "", "where to write the figures as JSON (default bench-<timestamp>.json)")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run (load generator included) to this file")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}

// startForBench starts a Main for a bench scenario: the configuration env gives
// (every other variable at its default), on a free loopback port, migrating first.
func startForBench(stderr io.Writer) bench.StartFunc {
	return func(ctx context.Context, roles bench.Roles, env map[string]string) (*bench.Tradewind, error) {
		cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, true)
		if err != nil {
			return nil, err
		}
		cfg.Listen = "127.0.0.1:0" // any free loopback port (the validator wants a real one)
		m, err := newMainFromFile(cfg, slogjson.New(stderr, cfg.LogLevel))
		if err != nil {
			return nil, err
		}
		if err := m.Run(ctx, Roles{Serve: roles.Serve, Work: roles.Work, Migrate: true}); err != nil {
			_ = m.Close(context.Background())
			return nil, err
		}
		return &bench.Tradewind{Addr: m.Addr(), DB: m.DB, APIToken: cfg.APIToken, Close: m.Close}, nil
	}
}

// newBenchReconcileCommand is `tradewind bench reconcile` (reconcile.Bench), a
// subcommand of bench so that it can move with the bench code.
func newBenchReconcileCommand(stdout, stderr io.Writer) *cobra.Command {
	var p reconcile.BenchParams
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Compare a million orders with a fake Stripe listing: time and peak RSS beside a plain sorted merge",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return reconcile.RunBench(cmd.Context(), stdout, stderr, p)
		},
	}
	cmd.Flags().IntVar(&p.Orders, "orders", 1_000_000, "provider records to compare")
	cmd.Flags().IntVar(&p.MissingEvery, "missing-every", 20, "leave one in this many out of Tradewind's side")
	return cmd
}
