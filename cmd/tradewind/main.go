// Command tradewind is Tradewind's one binary: the webhook ingress and API
// (serve), the Asynq worker (work), the cron (schedule), all three at once (all),
// migrations (migrate), replays of stored webhooks (replay), a provider simulator
// (simulate) and benchmarks (bench).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/internal/gctune"
	"github.com/tradewind/tradewind/internal/lifecycle"
	"github.com/tradewind/tradewind/internal/slogjson"
	"github.com/tradewind/tradewind/internal/sourcesfile"
)

func main() {
	gctune.Default()
	if err := newRootCommand(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tradewind:", err)
		os.Exit(1)
	}
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "tradewind",
		Short:         "Verify, store, normalize and apply e-commerce webhooks exactly once",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.Version = Version() // --version (version.go)
	root.SetVersionTemplate("tradewind {{.Version}}\n")
	run := func(use, short string, roles Roles) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return runRoles(cmd.Context(), stderr, roles) },
		}
	}
	bench := newBenchCommand(stdout, stderr)
	bench.AddCommand(newBenchReconcileCommand(stdout, stderr)) // tradewind bench reconcile
	root.AddCommand(
		run("all", "Serve, work and schedule in one process, applying migrations first (the default for one machine)",
			Roles{Serve: true, Work: true, Schedule: true, Migrate: true}),
		run("serve", "Serve webhooks, the API and the dashboard", Roles{Serve: true}),
		run("work", "Run the Asynq worker that applies events", Roles{Work: true}),
		run("schedule", "Run the cron: the inbox sweeper, reservation expiry, conflict maturing, retention prune and the nightly reconciliation", Roles{Schedule: true}),
		newMigrateCommand(stderr),
		newSimulateCommand(stdout, stderr),
		newReplayCommand(stdout),
		newReconcileCommand(stdout, stderr),
		bench,
		versionCmd(),
	)
	return root
}

// runRoles runs until SIGINT or SIGTERM, then shuts down gracefully and returns nil.
// A failure to start (an address in use, a database that does not answer) or an
// HTTP server that stops by itself returns an error, so the process exits non-zero.
func runRoles(parent context.Context, stderr io.Writer, roles Roles) error {
	cfg, err := LoadConfig(osEnv, roles.Serve)
	if err != nil {
		return err
	}
	m, err := newMainFromFile(cfg, slogjson.New(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runMain(ctx, stop, m, roles)
}

// newMainFromFile is a Main for cfg with the sources and destinations of its
// sources file; a bad entry fails naming its key.
func newMainFromFile(cfg Config, logger *slog.Logger) (*Main, error) {
	f, err := sourcesfile.Load(cfg.SourcesFile, osEnv)
	if err != nil {
		return nil, err
	}
	m := NewMain(cfg, f.Sources, logger)
	m.Destinations = f.Destinations
	return m, nil
}

// runMain runs m until ctx ends or its HTTP server stops, then closes it within
// a bound. stopSignals is called when shutdown begins, so that a second SIGINT
// or SIGTERM kills at once.
func runMain(ctx context.Context, stopSignals func(), m *Main, roles Roles) error {
	runErr := m.Run(ctx, roles) // main prints a start failure
	if runErr == nil {
		runErr = lifecycle.WaitForStop(ctx, m.ServeDone(), m.ServeErr, m.Logger)
	}
	stopSignals()
	err := lifecycle.CloseWithin(m.Config.ShutdownTimeout, m.Close, m.Logger)
	if runErr == nil && err == nil {
		m.Logger.Info("stopped")
	}
	return errors.Join(runErr, err)
}
