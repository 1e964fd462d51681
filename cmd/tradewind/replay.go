package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"
	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

func newReplayCommand(stdout io.Writer) *cobra.Command {
	var (
		status, source string
		limit          int
	)
	cmd := &cobra.Command{
		Use:     "replay [webhook-id ...]",
		Short:   "Apply stored webhooks again: by id, or every one with --status (and --source)",
		Long:    jobs.ReplayUsage,
		Example: jobs.ReplayExamples,
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := jobs.ReplaySelection(args, status)
			if err != nil {
				return err
			}
			cfg, err := loadConfigFor(notSources) // the databases only
			if err != nil {
				return err
			}
			return runReplay(cmd.Context(), stdout, cfg, ids, domain.InboxFilter{Status: status, Source: source, Limit: limit})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "replay every webhook with this status: failed, rejected, ignored or received")
	cmd.Flags().StringVar(&source, "source", "", "with --status: only this source's webhooks")
	cmd.Flags().IntVar(&limit, "limit", 1000, "with --status: at most this many, newest first")
	cmd.AddCommand(newReplayDeliveriesCommand(stdout))
	return cmd
}

func runReplay(ctx context.Context, stdout io.Writer, cfg Config, ids []int64, f domain.InboxFilter) error {
	return withQueue(ctx, cfg, func(db *sqlx.DB, client *asynq.Client, inspector *asynq.Inspector) error {
		replayed, skips, err := jobs.ReplayWebhooks(ctx, &postgres.Inbox{DB: db}, client, inspector, ids, f)
		for _, s := range skips {
			fmt.Fprintf(stdout, "webhook %d: %s\n", s.ID, s.Reason)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "replayed %d webhook(s), skipped %d\n", replayed, len(skips))
		if len(skips) > 0 && replayed == 0 {
			return errors.New("nothing was replayed")
		}
		return nil
	})
}

// notSources is every variable but TRADEWIND_SOURCES_FILE: replays use the databases only.
func notSources(key string) bool { return key != "TRADEWIND_SOURCES_FILE" }

// withQueue runs f with PostgreSQL, and an Asynq client and inspector on Redis
// (read as Main does: redis-sentinel:// and redis-cluster:// too).
func withQueue(ctx context.Context, cfg Config, f func(*sqlx.DB, *asynq.Client, *asynq.Inspector) error) error {
	db, err := postgres.Open(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer db.Close()
	redisOpt, err := redisOptions(cfg)
	if err != nil {
		return err
	}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	inspector := asynq.NewInspector(redisOpt)
	defer inspector.Close()
	return f(db, client, inspector)
}
