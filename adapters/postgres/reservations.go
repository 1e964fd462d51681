package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

// Reserver is the flash-sale reservation path. A single conditional UPDATE per
// reservation tops out at one commit per row lock; instead, concurrent requests
// for one SKU are combined: while one batch commits, the next collects, and each
// batch is one transaction that locks the SKU row once, grants requests in arrival
// order while stock lasts, inserts the reservations and their ledger rows, and
// commits. Every caller is answered after that commit. Several processes stay
// exact because each batch holds the SKU's row lock; a crash loses only an
// uncommitted batch, whose callers were never answered.
type Reserver struct {
	db       *sqlx.DB
	now      func() time.Time
	log      *slog.Logger
	maxBatch int
	// stock are the destinations whose stock push a change of what is available
	// makes pending again (none: no delivery is written).
	stock []domain.Destination

	mu     sync.Mutex
	state  reserverState
	queues map[string][]*reserveCall
	wg     sync.WaitGroup
}

type reserverState int

const (
	reserverNew reserverState = iota
	reserverRunning
	reserverStopped
)

// ReserverParams configure a Reserver.
type ReserverParams struct {
	DB       *sqlx.DB
	Now      func() time.Time
	Logger   *slog.Logger
	MaxBatch int // requests per transaction (default 512)
	// Destinations: a grant, release or expiry makes the SKU's push pending at
	// each one that pushes stock (shopify_inventory), in the same transaction.
	Destinations []domain.Destination
}

// NewReserver returns a Reserver.
func NewReserver(p ReserverParams) *Reserver {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.MaxBatch <= 0 {
		p.MaxBatch = 512
	}
	return &Reserver{db: p.DB, now: p.Now, log: p.Logger, maxBatch: p.MaxBatch, queues: map[string][]*reserveCall{},
		stock: StockPushDestinations(p.Destinations)}
}

var _ domain.Reservations = (*Reserver)(nil)

type reserveCall struct {
	req  domain.ReservationRequest
	done chan reserveResult
}

type reserveResult struct {
	r        domain.Reservation
	replayed bool
	err      error
}

// Start makes the Reserver take reservations. It runs no goroutine of its own
// until the first one; ctx bounds only the start. Returns EINTERNAL when the
// Reserver was started before or shut down.
func (s *Reserver) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != reserverNew {
		return domain.Errorf(domain.EINTERNAL, "reserver started twice or after Shutdown")
	}
	s.state = reserverRunning
	return nil
}

// Shutdown stops taking reservations and waits for the batches in flight, whose
// callers are answered; ctx's error when ctx ends first. Reserve then returns
// EUNAVAILABLE.
func (s *Reserver) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.state = reserverStopped // no drain starts after this: wg.Wait below is final
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reserve implements domain.Reservations.
func (s *Reserver) Reserve(ctx context.Context, req domain.ReservationRequest) (domain.Reservation, bool, error) {
	call := &reserveCall{req: req, done: make(chan reserveResult, 1)}
	s.mu.Lock()
	if s.state != reserverRunning {
		s.mu.Unlock()
		return domain.Reservation{}, false, domain.Errorf(domain.EUNAVAILABLE, "reservations are not being taken (the service is starting or shutting down); retry shortly")
	}
	q, running := s.queues[req.SKU]
	s.queues[req.SKU] = append(q, call)
	if !running {
		s.wg.Add(1)
		go s.drain(req.SKU)
	}
	s.mu.Unlock()
	select {
	case res := <-call.done:
		return res.r, res.replayed, res.err
	case <-ctx.Done():
		// The batch may still commit: a retry with the same Idempotency-Key finds it.
		return domain.Reservation{}, false, domain.WrapError(ctx.Err(), domain.EUNAVAILABLE, "the reservation did not finish in time; retry with the same Idempotency-Key")
	}
}

// drain commits batches for one SKU until its queue is empty.
func (s *Reserver) drain(sku string) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		q := s.queues[sku]
		if len(q) == 0 {
			delete(s.queues, sku)
			s.mu.Unlock()
			return
		}
		n := min(len(q), s.maxBatch)
		batch := q[:n:n]
		s.queues[sku] = q[n:]
		s.mu.Unlock()

		results, err := s.commitBatch(sku, batch)
		if err != nil && isUniqueViolation(err) {
			// Another process took one of these idempotency keys at the same moment:
			// the retry finds its reservation and replays it.
			results, err = s.commitBatch(sku, batch)
		}
		for i, c := range batch {
			if err != nil {
				c.done <- reserveResult{err: translate("reserve", err)}
			} else {
				c.done <- results[i]
			}
		}
	}
}

// newID returns a reservation id.
func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "res_" + hex.EncodeToString(b)
}

type reservationRow struct {
	ID             string         `db:"id"`
	SKU            string         `db:"sku"`
	Quantity       int64          `db:"quantity"`
	OrderRef       sql.NullString `db:"order_ref"`
	IdempotencyKey sql.NullString `db:"idempotency_key"`
	State          string         `db:"state"`
	ExpiresAt      time.Time      `db:"expires_at"`
	CreatedAt      time.Time      `db:"created_at"`
}

const reservationColumns = `id, sku, quantity, order_ref, idempotency_key, state, expires_at, created_at`

func (r reservationRow) reservation() domain.Reservation {
	return domain.Reservation{ID: r.ID, SKU: r.SKU, Quantity: r.Quantity, OrderRef: r.OrderRef.String, State: r.State,
		ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC()}
}

func (s *Reserver) commitBatch(sku string, batch []*reserveCall) ([]reserveResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	results := make([]reserveResult, len(batch))
	now := s.now().UTC()
	err := inTx(ctx, s.db, "reserve", func(tx *sqlx.Tx) error {
		var keys []string
		for _, c := range batch {
			if c.req.IdempotencyKey != "" {
				keys = append(keys, c.req.IdempotencyKey)
			}
		}
		existing := map[string]reservationRow{}
		if len(keys) > 0 {
			var rows []reservationRow
			if err := tx.SelectContext(ctx, &rows, `SELECT `+reservationColumns+` FROM reservations WHERE idempotency_key = ANY($1)`, pq.StringArray(keys)); err != nil {
				return err
			}
			for _, r := range rows {
				existing[r.IdempotencyKey.String] = r
			}
		}
		inv, err := lockSKU(ctx, tx, sku)
		if err != nil {
			return err
		}
		available := inv.OnHand - inv.Reserved
		expiredChecked, changed := false, false
		var granted []reservationRow
		firstWithKey := map[string]int{}
		for i, c := range batch {
			req := c.req
			if key := req.IdempotencyKey; key != "" {
				if r, ok := existing[key]; ok {
					results[i] = replay(r, req)
					continue
				}
				if j, ok := firstWithKey[key]; ok {
					results[i] = reserveResult{r: results[j].r, replayed: true, err: results[j].err}
					if results[j].err == nil && !sameRequest(results[j].r, req) {
						results[i] = reserveResult{err: idempotencyMismatch(key)}
					}
					continue
				}
				firstWithKey[key] = i
			}
			if domain.ShortOf(available, req.Quantity) && !expiredChecked {
				expiredChecked = true
				freed, err := expireSKU(ctx, tx, sku, now)
				if err != nil {
					return err
				}
				available += freed
				changed = changed || freed > 0
			}
			left, err := domain.Grant(sku, available, req.Quantity)
			if err != nil {
				results[i] = reserveResult{err: err}
				continue
			}
			available = left
			r := reservationRow{ID: newID(), SKU: sku, Quantity: req.Quantity, State: domain.ReservationActive,
				OrderRef: nullString(req.OrderRef), IdempotencyKey: nullString(req.IdempotencyKey),
				ExpiresAt: now.Add(req.TTL), CreatedAt: now}
			granted = append(granted, r)
			results[i] = reserveResult{r: r.reservation()}
		}
		if err := insertReservations(ctx, tx, sku, granted, now); err != nil {
			return err
		}
		if !changed && len(granted) == 0 {
			return nil
		}
		return writeStockPushes(ctx, tx, s.stock, []string{sku}, now)
	})
	return results, err
}

func replay(r reservationRow, req domain.ReservationRequest) reserveResult {
	if !sameRequest(r.reservation(), req) {
		return reserveResult{err: idempotencyMismatch(req.IdempotencyKey)}
	}
	return reserveResult{r: r.reservation(), replayed: true}
}

func sameRequest(r domain.Reservation, req domain.ReservationRequest) bool {
	return r.SKU == req.SKU && r.Quantity == req.Quantity && r.OrderRef == req.OrderRef
}

func idempotencyMismatch(key string) error {
	return &domain.Error{Code: domain.ECONFLICT, Reason: "idempotency_mismatch",
		Message: fmt.Sprintf("Idempotency-Key %q was already used for a different reservation; use a new key for a new request", key)}
}

// insertReservations writes granted reservations, their reserved units and ledger rows.
func insertReservations(ctx context.Context, tx *sqlx.Tx, sku string, rows []reservationRow, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	var (
		q      strings.Builder
		ledger strings.Builder
		args   []any
		largs  []any
		total  int64
	)
	q.WriteString(`INSERT INTO reservations (id, sku, quantity, order_ref, idempotency_key, state, expires_at, created_at) VALUES `)
	ledger.WriteString(`INSERT INTO stock_ledger (sku, cause, delta_reserved, order_ref, reservation_id, source, occurred_at) VALUES `)
	for i, r := range rows {
		if i > 0 {
			q.WriteByte(',')
			ledger.WriteByte(',')
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,'active',$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
		args = append(args, r.ID, sku, r.Quantity, r.OrderRef, r.IdempotencyKey, r.ExpiresAt, now)
		n = len(largs)
		fmt.Fprintf(&ledger, "($%d,'reservation',$%d,$%d,$%d,'api',$%d)", n+1, n+2, n+3, n+4, n+5)
		largs = append(largs, sku, r.Quantity, r.OrderRef, r.ID, now)
		total += r.Quantity
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, ledger.String(), largs...); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE inventory SET reserved = reserved + $2, updated_at = now() WHERE sku = $1`, sku, total)
	return err
}

// expireSKU expires a locked SKU's due reservations and returns the units freed.
func expireSKU(ctx context.Context, tx *sqlx.Tx, sku string, now time.Time) (int64, error) {
	var rows []struct {
		ID       string         `db:"id"`
		Quantity int64          `db:"quantity"`
		OrderRef sql.NullString `db:"order_ref"`
	}
	if err := tx.SelectContext(ctx, &rows, `
		UPDATE reservations SET state = 'expired', updated_at = now()
		WHERE sku = $1 AND state = 'active' AND expires_at <= $2 RETURNING id, quantity, order_ref`, sku, now); err != nil {
		return 0, err
	}
	var freed int64
	for _, r := range rows {
		m := stockMove{SKU: sku, DeltaReserved: -r.Quantity, Cause: domain.StockExpiry, OrderRef: r.OrderRef.String,
			ReservationID: r.ID, Source: "api", OccurredAt: now}
		if err := ledger(ctx, tx, m, 0); err != nil {
			return 0, err
		}
		freed += r.Quantity
	}
	if freed > 0 {
		_, err := tx.ExecContext(ctx, `UPDATE inventory SET reserved = reserved - $2, updated_at = now() WHERE sku = $1`, sku, freed)
		return freed, err
	}
	return 0, nil
}

// Release implements domain.Reservations. The SKU is locked before the
// reservation, the order every path takes.
func (s *Reserver) Release(ctx context.Context, id string) (domain.Reservation, error) {
	var out domain.Reservation
	err := inTx(ctx, s.db, "release reservation", func(tx *sqlx.Tx) error {
		var sku string
		if err := tx.GetContext(ctx, &sku, `SELECT sku FROM reservations WHERE id = $1`, id); err != nil {
			return err
		}
		if _, err := lockSKU(ctx, tx, sku); err != nil {
			return err
		}
		var r reservationRow
		if err := tx.GetContext(ctx, &r, `SELECT `+reservationColumns+` FROM reservations WHERE id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		switch r.State {
		case domain.ReservationConverted:
			return domain.Errorf(domain.ECONFLICT, "reservation %s belongs to order %s now; cancel the order instead", id, r.OrderRef.String)
		case domain.ReservationReleased, domain.ReservationExpired:
			out = r.reservation()
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET state = 'released', updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		m := stockMove{SKU: sku, DeltaReserved: -r.Quantity, Cause: domain.StockRelease, OrderRef: r.OrderRef.String,
			ReservationID: id, Source: "api", OccurredAt: s.now()}
		if err := moveStock(ctx, tx, m); err != nil {
			return err
		}
		if err := writeStockPushes(ctx, tx, s.stock, []string{sku}, s.now()); err != nil {
			return err
		}
		r.State = domain.ReservationReleased
		out = r.reservation()
		return nil
	})
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return out, domain.Errorf(domain.ENOTFOUND, "no reservation %q", id)
	}
	return out, err
}

// Expire implements domain.Reservations, one SKU per transaction.
func (s *Reserver) Expire(ctx context.Context, now time.Time, limit int) (int, error) {
	var skus []string
	if err := s.db.SelectContext(ctx, &skus, `
		SELECT DISTINCT sku FROM reservations WHERE state = 'active' AND expires_at <= $1 LIMIT $2`, now, limit); err != nil {
		return 0, translate("due reservations", err)
	}
	sort.Strings(skus)
	total := 0
	for _, sku := range skus {
		err := inTx(ctx, s.db, "expire reservations", func(tx *sqlx.Tx) error {
			if _, err := lockSKU(ctx, tx, sku); err != nil {
				return err
			}
			n, err := expireSKU(ctx, tx, sku, now)
			if err != nil || n == 0 {
				return err
			}
			total += int(n)
			return writeStockPushes(ctx, tx, s.stock, []string{sku}, now)
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Get returns a reservation. Returns ENOTFOUND for an unknown id.
func (s *Reserver) Get(ctx context.Context, id string) (domain.Reservation, error) {
	var r reservationRow
	if err := s.db.GetContext(ctx, &r, `SELECT `+reservationColumns+` FROM reservations WHERE id = $1`, id); err != nil {
		return domain.Reservation{}, translate("reservation "+id, err)
	}
	return r.reservation(), nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
