// Command tradewind is Tradewind's one binary: the webhook ingress and API
// (serve), the Asynq worker (work), the cron (schedule), all three at once (all),
// migrations (migrate), replays of stored webhooks (replay), a provider simulator
// (simulate) and benchmarks (bench).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func main() {
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
	run := func(use, short string, roles Roles) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return runRoles(cmd.Context(), stderr, roles) },
		}
	}
	root.AddCommand(
		run("all", "Serve, work and schedule in one process, applying migrations first (the default for one machine)",
			Roles{Serve: true, Work: true, Schedule: true, Migrate: true}),
		run("serve", "Serve webhooks, the API and the dashboard", Roles{Serve: true}),
		run("work", "Run the Asynq worker that applies events", Roles{Work: true}),
		run("schedule", "Run the cron: the inbox sweeper", Roles{Schedule: true}),
		newMigrateCommand(stderr),
		newSimulateCommand(stdout, stderr),
		newReplayCommand(stdout),
		newBenchCommand(stdout, stderr),
	)
	return root
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// runRoles runs until SIGINT or SIGTERM, then shuts down gracefully and returns nil.
func runRoles(parent context.Context, stderr io.Writer, roles Roles) error {
	cfg, err := LoadConfig(osEnv, roles.Serve)
	if err != nil {
		return err
	}
	sources, err := LoadSources(cfg.SourcesFile, osEnv)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	m := NewMain(cfg, sources, logger)
	runErr := m.Run(ctx, roles)
	if runErr == nil {
		select {
		case <-ctx.Done():
			logger.Info("shutting down: finishing in-flight requests and tasks")
		case err := <-m.served:
			runErr = fmt.Errorf("http server stopped: %w", err)
		}
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout+5*time.Second)
	defer cancel()
	if err := m.Close(closeCtx); err != nil {
		logger.Warn("shutdown", slog.String("error", err.Error()))
	}
	if runErr == nil {
		logger.Info("stopped")
	}
	return runErr
}
