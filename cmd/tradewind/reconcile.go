package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/progress"
	"github.com/tradewind/tradewind/internal/slogjson"
	"github.com/tradewind/tradewind/reconcile"
)

func newReconcileCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		since, until string
		sources      []string
		dryRun       bool
	)
	cmd := &cobra.Command{
		Use:     "reconcile --since 24h [--until TIME] [--source ID ...] [--dry-run]",
		Short:   "Compare the providers' own records with Tradewind's now, repair what webhooks missed, and print the report",
		Long:    reconcile.Usage,
		Example: reconcile.Examples,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			req := domain.ReconciliationRequest{Sources: sources, DryRun: dryRun, Until: now}
			var err error
			if req.Since, err = parseWhen("--since", since, now); err != nil {
				return err
			}
			if until != "" {
				if req.Until, err = parseWhen("--until", until, now); err != nil {
					return err
				}
			}
			// runs in this process: PostgreSQL and the sources only
			cfg, err := loadConfigFor(func(k string) bool { return k != "TRADEWIND_REDIS_URL" })
			if err != nil {
				return err
			}
			m, err := newMainFromFile(cfg, slogjson.New(stderr, "warn"))
			if err != nil {
				return err
			}
			return runReconcile(cmd.Context(), stdout, stderr, m, req)
		},
	}
	cmd.Flags().StringVar(&since, "since", "24h", "the window's start: a duration back from now (24h) or an RFC 3339 time")
	cmd.Flags().StringVar(&until, "until", "", "the window's end: a duration back from now or an RFC 3339 time (default now)")
	cmd.Flags().StringArrayVar(&sources, "source", nil, "reconcile only this source (repeatable; default every source that can be)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "change nothing; report what would be repaired")
	return cmd
}

// parseWhen reads an RFC 3339 time, or a duration back from now.
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: give a duration back from now (24h) or an RFC 3339 time (2026-11-30T02:30:00Z)", flag, v)
}

func runReconcile(ctx context.Context, stdout, stderr io.Writer, m *Main, req domain.ReconciliationRequest) error {
	db, err := postgres.Open(ctx, m.Config.DatabaseURL, 4)
	if err != nil {
		return fmt.Errorf("TRADEWIND_DATABASE_URL: %w", err)
	}
	m.DB = db
	defer db.Close()
	if err := postgres.CheckSchema(ctx, m.DB, false); err != nil {
		return err
	}
	bars := progress.NewBars(stderr, progress.Options{ShowCount: true, Unit: "compared", ClearOnFinish: true})
	return m.reconciler(&postgres.Inbox{DB: db}, bars.Set).RunAndReport(ctx, req, stdout, stderr, bars.Finish)
}
