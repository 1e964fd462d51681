package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

func newReplayDeliveriesCommand(stdout io.Writer) *cobra.Command {
	var destination, status, since, until string
	cmd := &cobra.Command{
		Use:   "deliveries --destination ID --status dead [--since T] [--until T]",
		Short: "Deliver downstream deliveries again: every one of a destination in a status, created in a time range",
		Long: `Queue downstream deliveries again, their attempts counted from zero. A replay is
delivered with the same webhook-id as before (the receiver's dedupe still works) and
a fresh timestamp and signature. Times are RFC 3339; the range is [since, until).`,
		Example: `  tradewind replay deliveries --destination acme-crm --status dead
  tradewind replay deliveries --destination acme-crm --status dead --since 2026-11-01T00:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if destination == "" {
				return errors.New("--destination: name the destination (its id in the sources file's destinations section)")
			}
			st, err := domain.ParseDeliveryStatus(status)
			if err != nil {
				return fmt.Errorf("--status: %s", domain.ErrorMessage(err))
			}
			var from, to time.Time
			for _, x := range []struct {
				flag, v string
				into    *time.Time
			}{{"--since", since, &from}, {"--until", until, &to}} {
				if x.v == "" {
					continue
				}
				if *x.into, err = time.Parse(time.RFC3339, x.v); err != nil {
					return fmt.Errorf("%s: %q is not an RFC 3339 time, e.g. 2026-11-01T00:00:00Z", x.flag, x.v)
				}
			}
			cfg, err := LoadConfig(osEnv, false)
			var ce *ConfigError
			if errors.As(err, &ce) && ce.Key == "TRADEWIND_SOURCES_FILE" {
				err = nil // needs only the databases
			}
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
	db, err := postgres.Open(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer db.Close()
	redisOpt, err := redisOptions(cfg) // as Main does: redis-sentinel:// and redis-cluster:// too
	if err != nil {
		return err
	}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	inspector := asynq.NewInspector(redisOpt)
	defer inspector.Close()
	n, err := jobs.ReplayDeliveries(ctx, &postgres.Deliveries{DB: db}, client, inspector, destination, status, since, until)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "queued %d delivery(ies) of %s again\n", n, destination)
	return nil
}
