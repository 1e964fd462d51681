package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// CheckSchema applies pending migrations when migrate is set, and otherwise
// refuses to run on a schema that is behind the binary.
func CheckSchema(ctx context.Context, db *sqlx.DB, migrate bool) error {
	mg, err := Migrator(db)
	if err != nil {
		return err
	}
	if migrate {
		if _, err := mg.Up(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	}
	pending, err := mg.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if pending {
		return errors.New("the database schema is behind this binary: run `tradewind migrate up` first")
	}
	return nil
}
