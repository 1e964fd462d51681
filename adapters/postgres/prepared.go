package postgres

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// statements caches prepared statements by their text. PostgreSQL plans an
// unnamed statement on every execution; a prepared one is planned a few times
// and then runs on its generic plan, which for the apply path's key lookups is the
// same plan without the planning (for loadOrderState's query, planning took
// longer than running it). database/sql prepares a statement once per connection
// and keeps it there, so the cache holds one *sqlx.Stmt per text for the life of
// the pool. Every text passed to it must come from a bounded set (constants),
// never from values. The zero value is ready to use.
type statements struct {
	mu    sync.Mutex
	stmts map[string]*sqlx.Stmt
}

// get returns the statement for query, preparing it on db the first time.
func (c *statements) get(ctx context.Context, db *sqlx.DB, query string) (*sqlx.Stmt, error) {
	c.mu.Lock()
	s, ok := c.stmts[query]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[query]; ok {
		_ = s.Close() // prepared concurrently by another caller: keep one
		return prev, nil
	}
	if c.stmts == nil {
		c.stmts = make(map[string]*sqlx.Stmt)
	}
	c.stmts[query] = s
	return s, nil
}

// ltx is a ledger transaction: a *sqlx.Tx whose statements run prepared, from
// cache, when cache is set (and plainly when it is nil). It satisfies
// sqlx.ExtContext, so the stock helpers shared with the Reserver take it too.
type ltx struct {
	*sqlx.Tx
	db    *sqlx.DB
	cache *statements
	now   time.Time // the transaction's one clock reading
	// locked holds the orders locked ahead by a batch (lockBatch), whose rows
	// need no second lock.
	locked map[string]bool
	// busy holds the orders a stock level left to be settled after the commit.
	busy []busyOrder
}

// stmt returns query's prepared statement bound to the transaction, or nil when
// the transaction does not cache.
func (t *ltx) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if t.cache == nil {
		return nil, nil
	}
	s, err := t.cache.get(ctx, t.db, query)
	if err != nil {
		return nil, err
	}
	return t.Tx.StmtxContext(ctx, s), nil
}

func (t *ltx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := t.stmt(ctx, query)
	if err != nil || s == nil {
		if err != nil {
			return nil, err
		}
		return t.Tx.ExecContext(ctx, query, args...)
	}
	return s.ExecContext(ctx, args...)
}

func (t *ltx) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	s, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	if s == nil {
		return t.Tx.GetContext(ctx, dest, query, args...)
	}
	return s.GetContext(ctx, dest, args...)
}

func (t *ltx) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	s, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	if s == nil {
		return t.Tx.SelectContext(ctx, dest, query, args...)
	}
	return s.SelectContext(ctx, dest, args...)
}

func (t *ltx) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	s, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return t.Tx.QueryxContext(ctx, query, args...)
	}
	return s.QueryxContext(ctx, args...)
}

func (t *ltx) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	s, err := t.stmt(ctx, query)
	if err != nil || s == nil {
		// A failed prepare reports itself again, as the row's error, on the plain path.
		return t.Tx.QueryRowxContext(ctx, query, args...)
	}
	return s.QueryRowxContext(ctx, args...)
}
