// Package pgtest opens migrated, empty PostgreSQL databases for tests, one per
// test, in the cluster `make test` starts.
package pgtest

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/internal/testenv"
)

// Open returns a connection pool to a fresh database with every migration
// applied; the database is dropped when the test ends.
func Open(t testing.TB, maxConns int) *sqlx.DB {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, testenv.DatabaseURL(t), maxConns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mg, err := postgres.Migrator(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mg.Up(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
