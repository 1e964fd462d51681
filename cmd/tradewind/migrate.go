package main

import (
	"io"

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
			cfg, err := loadConfigFor(func(k string) bool { return k == "TRADEWIND_DATABASE_URL" }) // the database only
			if err != nil {
				return err
			}
			db, err := postgres.Open(cmd.Context(), cfg.DatabaseURL, 2)
			if err != nil {
				return err
			}
			defer db.Close()
			return postgres.RunMigrate(cmd.Context(), db, args[0], cmd.OutOrStdout())
		},
	}
	return cmd
}
