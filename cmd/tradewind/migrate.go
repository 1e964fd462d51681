package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/adapters/postgres"
)

func newMigrateCommand(stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:       "migrate up|down|status",
		Short:     "Apply, roll back (one step) or list the database migrations",
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"up", "down", "status"},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := LoadConfig(osEnv, false)
			var ce *ConfigError
			if errors.As(err, &ce) && ce.Key != "TRADEWIND_DATABASE_URL" {
				err = nil // migrate needs only the database
			}
			if err != nil {
				return err
			}
			db, err := postgres.Open(cmd.Context(), cfg.DatabaseURL, 2)
			if err != nil {
				return err
			}
			defer db.Close()
			mg, err := postgres.Migrator(db)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch args[0] {
			case "up":
				res, err := mg.Up(cmd.Context())
				for _, r := range res {
					fmt.Fprintf(out, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
				}
				if err == nil && len(res) == 0 {
					fmt.Fprintln(out, "nothing to apply: the schema is up to date")
				}
				return err
			case "down":
				r, err := mg.Down(cmd.Context())
				if err == nil {
					fmt.Fprintf(out, "rolled back %s\n", r.Source.Path)
				}
				return err
			default:
				st, err := mg.Status(cmd.Context())
				for _, s := range st {
					at := "pending"
					if !s.AppliedAt.IsZero() {
						at = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(out, "%-40s %s\n", s.Source.Path, at)
				}
				return err
			}
		},
	}
	return cmd
}
