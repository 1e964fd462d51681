// Package postgres is Tradewind's PostgreSQL adapter: connection, migrations, the
// inbox, and the transactional application of domain events. Stores take
// sqlx.ExtContext so one implementation serves the pool and a transaction.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/migrations"
)

// Open connects to PostgreSQL and checks the connection.
// Returns EUNAVAILABLE when the server cannot be reached.
//
// Every connection sends parameterized statements in binary-parameter mode
// (lib/pq's binary_parameters), whatever url says: one round trip per statement
// instead of two (a separate parse). In that mode a []byte parameter goes in
// binary format, which is right for bytea and wrong for jsonb or text: pass those
// as strings.
func Open(ctx context.Context, url string, maxConns int) (*sqlx.DB, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return nil, domain.WrapError(err, domain.EINVALID, "TRADEWIND_DATABASE_URL: not a valid PostgreSQL URL")
	}
	cfg.BinaryParameters = true
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, domain.WrapError(err, domain.EINVALID, "TRADEWIND_DATABASE_URL: not a valid PostgreSQL URL")
	}
	db := sqlx.NewDb(sql.OpenDB(connector), "postgres")
	if maxConns > 0 {
		db.SetMaxOpenConns(maxConns)
		db.SetMaxIdleConns(maxConns)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, translate("connect to PostgreSQL", err)
	}
	return db, nil
}

// Ping checks that PostgreSQL answers. Returns EUNAVAILABLE when it does not.
func Ping(ctx context.Context, db *sqlx.DB) error {
	return translate("ping PostgreSQL", db.PingContext(ctx))
}

// Migrator applies the embedded migrations. Concurrent migrators on several
// machines serialize on a PostgreSQL advisory lock.
func Migrator(db *sqlx.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return goose.NewProvider(goose.DialectPostgres, db.DB, migrations.FS, goose.WithSessionLocker(locker))
}

// translate turns infrastructure errors into domain errors at the adapter's edge:
// no rows is ENOTFOUND, a lost or refused connection is EUNAVAILABLE, anything else
// is wrapped with the operation.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return domain.WrapError(err, domain.ENOTFOUND, op+": not found")
	}
	if unavailable(err) {
		return domain.WrapError(err, domain.EUNAVAILABLE, op+": PostgreSQL is unavailable; retry shortly")
	}
	return fmt.Errorf("%s: %w", op, err)
}

func unavailable(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code.Class() {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) || errors.As(err, &ne) ||
		errors.Is(err, pq.ErrSSLNotSupported)
}

// isUniqueViolation reports a 23505 error.
func isUniqueViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}

// inTx runs fn in a transaction, committing when it returns nil.
func inTx(ctx context.Context, db *sqlx.DB, op string, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return translate(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return translate(op, err)
	}
	return translate(op, tx.Commit())
}

// RunMigrate runs `tradewind migrate action` on db: "up" applies every pending
// migration, "down" rolls back the newest one, "status" lists them all; each
// writes what it did to w.
func RunMigrate(ctx context.Context, db *sqlx.DB, action string, w io.Writer) error {
	mg, err := Migrator(db)
	if err != nil {
		return err
	}
	switch action {
	case "up":
		res, err := mg.Up(ctx)
		for _, r := range res {
			fmt.Fprintf(w, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
		}
		if err == nil && len(res) == 0 {
			fmt.Fprintln(w, "nothing to apply: the schema is up to date")
		}
		return err
	case "down":
		r, err := mg.Down(ctx)
		if err == nil {
			fmt.Fprintf(w, "rolled back %s\n", r.Source.Path)
		}
		return err
	case "status":
		st, err := mg.Status(ctx)
		for _, s := range st {
			at := "pending"
			if !s.AppliedAt.IsZero() {
				at = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%-40s %s\n", s.Source.Path, at)
		}
		return err
	}
	return fmt.Errorf("migrate %q: want up, down or status", action)
}
