package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"
	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

func newReplayDeliveriesCommand(stdout io.Writer) *cobra.Command {
	var destination, status, since, until string
	cmd := &cobra.Command{
		Use:     "deliveries --destination ID --status dead [--since T] [--until T]",
		Short:   "Deliver downstream deliveries again: every one of a destination in a status, created in a time range",
		Long:    jobs.ReplayDeliveriesUsage,
		Example: jobs.ReplayDeliveriesExamples,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if destination == "" {
				return errors.New("--destination: name the destination (its id in the sources file's destinations section)")
			}
			st, err := domain.ParseDeliveryStatus(status)
			if err != nil {
				return fmt.Errorf("--status: %s", domain.ErrorMessage(err))
			}
			var from, to time.Time
			if since != "" {
				if from, err = parseWhen("--since", since, time.Now()); err != nil {
					return err
				}
			}
			if until != "" {
				if to, err = parseWhen("--until", until, time.Now()); err != nil {
					return err
				}
			}
			cfg, err := loadConfigFor(notSources) // the databases only
			if err != nil {
				return err
			}
			return runReplayDeliveries(cmd.Context(), stdout, cfg, destination, st, from, to)
		},
	}
	cmd.Flags().StringVar(&destination, "destination", "", "the destination's id")
	cmd.Flags().StringVar(&status, "status", "dead", "deliveries in this status: dead, failed, pending or delivered")
	cmd.Flags().StringVar(&since, "since", "", "only deliveries created at or after this time (RFC 3339)")
	cmd.Flags().StringVar(&until, "until", "", "only deliveries created before this time (RFC 3339)")
	return cmd
}

func runReplayDeliveries(ctx context.Context, stdout io.Writer, cfg Config, destination string, status domain.DeliveryStatus, since, until time.Time) error {
	return withQueue(ctx, cfg, func(db *sqlx.DB, client *asynq.Client, inspector *asynq.Inspector) error {
		n, err := jobs.ReplayDeliveries(ctx, &postgres.Deliveries{DB: db}, client, inspector, destination, status, since, until)
		if err == nil {
			fmt.Fprintf(stdout, "queued %d delivery(ies) of %s again\n", n, destination)
		}
		return err
	})
}
