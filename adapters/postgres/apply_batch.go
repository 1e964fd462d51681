package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
)

var _ domain.BatchApplier = (*Ledger)(nil)

// applyRetries bounds how often a transaction that lost a deadlock or a
// serialization check (40P01, 40001) is run again at once.
const applyRetries = 3

// maxBatchEntries bounds the entries of one transaction: each has its savepoint,
// a subtransaction, and past 64 of them PostgreSQL's snapshots of every session
// slow down (the subtransaction cache overflows).
const maxBatchEntries = 32

// ApplyEntries implements domain.BatchApplier: the entries that can share a
// transaction are applied in one, each under its own savepoint, so an entry
// whose events fail (bad input) is rolled back alone and gets its error while the
// others commit. Locks are taken in one global order before anything is written —
// the inbox rows, then the orders the entries touch by ref, then every SKU those
// orders hold or name, sorted — the order the one-entry path takes, so batches and
// single entries cannot deadlock one another. If the shared transaction fails as a
// whole (a deadlock all the same, a lost connection, a failed commit), each entry
// is applied again on its own; exactly-once holds because every event's
// applied_events row commits with its effects.
//
// Entries a batch cannot lock ahead (stock levels, which lock the orders waiting
// for the SKU; payments whose order is known only from the payment row) are
// applied one by one, each in its own transaction.
func (l *Ledger) ApplyEntries(ctx context.Context, entries []domain.EntryEvents) []error {
	errs := make([]error, len(entries))
	var fast, batch, singles []int
	seen := make(map[int64]bool, len(entries))
	for i, e := range entries {
		switch _, ok := batchRefs(e.Events); {
		case seen[e.ID] || !ok:
			singles = append(singles, i)
		case fastEntry(e):
			fast = append(fast, i)
		default:
			batch = append(batch, i)
		}
		seen[e.ID] = true
	}
	for _, chunk := range fastChunks(entries, fast, maxBatchEntries) {
		if len(chunk) == 1 {
			singles = append(singles, chunk...)
		} else if err := l.applyBatchFast(ctx, entries, chunk, errs); err != nil {
			batch = append(batch, chunk...) // one entry may be at fault: find it under savepoints
			if l.OnBatchFallback != nil {
				l.OnBatchFallback(len(chunk), "savepoints", err)
			}
		}
	}
	for len(batch) > 0 {
		chunk := batch[:min(len(batch), maxBatchEntries)]
		batch = batch[len(chunk):]
		if len(chunk) == 1 {
			singles = append(singles, chunk...)
		} else if err := l.applyBatch(ctx, entries, chunk, errs); err != nil {
			singles = append(singles, chunk...) // the whole transaction failed: one by one
			if l.OnBatchFallback != nil {
				l.OnBatchFallback(len(chunk), "singles", err)
			}
		}
	}
	slices.Sort(singles)
	for _, i := range singles {
		errs[i] = l.ApplyEntry(ctx, entries[i].ID, entries[i].Events)
	}
	return errs
}

// batchRefs returns the orders an entry's events lock, and false when the entry
// cannot join a batch.
func batchRefs(events []domain.Event) ([]string, bool) {
	var refs []string
	for _, ev := range events {
		switch ev.Type {
		case domain.InventoryLevelSet:
			return nil, false
		case domain.PaymentAuthorized, domain.PaymentSucceeded, domain.PaymentFailed, domain.PaymentRefunded,
			domain.RefundFailed, domain.DisputeOpened, domain.DisputeClosed:
			if ev.OrderRef == "" {
				return nil, false // the order is read from the payment row, after the locks
			}
			refs = append(refs, ev.OrderRef)
		case domain.OrderPlaced, domain.OrderUpdated, domain.OrderCancelled, domain.OrderFulfilled:
			if ev.OrderRef != "" {
				refs = append(refs, ev.OrderRef)
			}
		}
	}
	return refs, true
}

// errBatchAborted reports that a batch's transaction cannot go on and its entries
// are to be applied one by one.
var errBatchAborted = errors.New("batch aborted")

// batchAborted is errBatchAborted with its cause: errors.Is finds both, and
// Unwrap gives the cause alone.
type batchAborted struct{ err error }

func (e batchAborted) Error() string        { return errBatchAborted.Error() + ": " + e.err.Error() }
func (e batchAborted) Unwrap() error        { return e.err }
func (e batchAborted) Is(target error) bool { return target == errBatchAborted }

// batchTx is a batch's transaction once it holds the batch's locks.
type batchTx struct {
	*ltx
	idx     []int                // the entries, in the order their locks were taken
	claims  map[int64]entryClaim // each existing entry's inbox row as it was
	orders  map[string]orderRow  // the orders the entries lock, as locked
	created []string             // the pending placeholders lockBatch made
}

// inBatch runs fn in one transaction that first claims entries[idx...] and takes
// their locks in the global order (claimEntries, lockBatch). A non-nil return
// (a batchAborted) means nothing of the batch committed.
func (l *Ledger) inBatch(ctx context.Context, entries []domain.EntryEvents, idx []int, fn func(b *batchTx) error) error {
	idx, ids, refs, eventSKUs := planBatch(entries, idx)
	err := l.inLedgerTx(ctx, "apply inbox entries", func(tx *ltx) error {
		claims, err := claimEntries(ctx, tx, ids)
		if err != nil {
			return err
		}
		orders, created, err := lockBatch(ctx, tx, refs, eventSKUs)
		if err != nil {
			return err
		}
		return fn(&batchTx{ltx: tx, idx: idx, claims: claims, orders: orders, created: created})
	})
	if err != nil {
		return batchAborted{err}
	}
	return nil
}

// dropUnused deletes the placeholders the batch made for orders no applied entry
// used, as if each entry had run alone.
func (b *batchTx) dropUnused(ctx context.Context, used func(ref string) bool) error {
	var unused []string
	for _, r := range b.created {
		if !used(r) {
			unused = append(unused, r)
		}
	}
	if len(unused) == 0 {
		return nil
	}
	_, err := b.ExecContext(ctx, `DELETE FROM orders WHERE ref = ANY($1)`, pq.StringArray(unused))
	return err
}

// missing is the error of an entry the batch found no inbox row of.
func missing(id int64) error {
	return translate(fmt.Sprintf("apply inbox entry %d", id), sql.ErrNoRows)
}

// applyBatch applies entries[idx...] in one transaction, each entry under a
// savepoint, filling errs for the entries that failed alone. A non-nil return
// means nothing of the batch committed (errs untouched).
func (l *Ledger) applyBatch(ctx context.Context, entries []domain.EntryEvents, idx []int, errs []error) error {
	failed := map[int]error{}
	err := l.inBatch(ctx, entries, idx, func(tx *batchTx) error {
		used := map[string]bool{} // orders an applied entry touched
		for _, i := range tx.idx {
			e := entries[i]
			c, ok := tx.claims[e.ID]
			if !ok {
				failed[i] = missing(e.ID)
				continue
			}
			if !c.Claimed {
				continue // applied, ignored or rejected already
			}
			// Not released after success: ROLLBACK TO names the latest, and a
			// batch is small (a subtransaction costs PostgreSQL a little memory).
			if _, err := tx.Tx.ExecContext(ctx, `SAVEPOINT entry`); err != nil {
				return err
			}
			var applyErr error
			for _, ev := range e.Events {
				if err := l.applyEvent(ctx, tx.ltx, e.ID, ev); err != nil {
					applyErr = fmt.Errorf("%s %s: %w", ev.Type, ev.EventID, err)
					break
				}
			}
			if applyErr == nil {
				entryRefs, _ := batchRefs(e.Events)
				for _, r := range entryRefs {
					used[r] = true
				}
				continue
			}
			if retryable(applyErr) || unavailable(applyErr) {
				return applyErr // the transaction as a whole is in question
			}
			// This entry's input is at fault: undo it, and its claim, alone.
			if _, err := tx.Tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT entry`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE inbox SET status = $2, applied_at = $3, last_error = $4 WHERE id = $1`,
				e.ID, c.Status, c.AppliedAt, c.LastError); err != nil {
				return err
			}
			failed[i] = translate(fmt.Sprintf("apply inbox entry %d", e.ID), applyErr)
		}
		return tx.dropUnused(ctx, func(ref string) bool { return used[ref] })
	})
	if err != nil {
		return err
	}
	for i, e := range failed {
		errs[i] = e
	}
	return nil
}

// planBatch orders a batch's entries as its locks are taken — grouped by order,
// an order's entries in their arrival order — and returns them with their ids,
// the orders they lock (sorted) and the SKUs their events name (sorted).
func planBatch(entries []domain.EntryEvents, idx []int) ([]int, []int64, []string, []string) {
	// Grouped by order, in the order the locks are taken; an order's entries keep
	// their arrival order.
	first := func(i int) string {
		refs, _ := batchRefs(entries[i].Events)
		if len(refs) == 0 {
			return ""
		}
		return slices.Min(refs)
	}
	idx = slices.Clone(idx)
	sort.SliceStable(idx, func(a, b int) bool { return first(idx[a]) < first(idx[b]) })

	ids := make([]int64, len(idx))
	refSet := map[string]bool{}
	skuSet := map[string]bool{}
	for k, i := range idx {
		ids[k] = entries[i].ID
		refs, _ := batchRefs(entries[i].Events)
		for _, r := range refs {
			refSet[r] = true
		}
		for _, ev := range entries[i].Events {
			if ev.Order != nil {
				for _, ln := range ev.Order.Lines {
					if ln.SKU != "" {
						skuSet[ln.SKU] = true
					}
				}
			}
		}
	}
	return idx, ids, slices.Sorted(maps.Keys(refSet)), slices.Sorted(maps.Keys(skuSet))
}

// entryClaim is an inbox row as it was before a batch claimed it.
type entryClaim struct {
	ID        int64        `db:"id"`
	Claimed   bool         `db:"claimed"`
	Status    string       `db:"status"`
	AppliedAt sql.NullTime `db:"applied_at"`
	LastError string       `db:"last_error"`
}

// claimEntries marks every entry of ids that is not settled yet applied, as
// claimEntry does one, and returns each existing entry's row as it was, so an
// entry that fails alone can be put back.
func claimEntries(ctx context.Context, tx *ltx, ids []int64) (map[int64]entryClaim, error) {
	var rows []entryClaim
	if err := tx.SelectContext(ctx, &rows, `
		WITH old AS (
			SELECT id, status, applied_at, last_error FROM inbox WHERE id = ANY($1) ORDER BY id FOR UPDATE
		), claimed AS (
			UPDATE inbox i SET status = 'applied', applied_at = $2, last_error = ''
			FROM old WHERE i.id = old.id AND old.status NOT IN ('applied', 'ignored', 'rejected') RETURNING i.id
		)
		SELECT old.id, claimed.id IS NOT NULL AS claimed, old.status, old.applied_at, old.last_error
		FROM old LEFT JOIN claimed ON claimed.id = old.id`, pq.Int64Array(ids), tx.now); err != nil {
		return nil, err
	}
	out := make(map[int64]entryClaim, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

// lockBatch locks the orders of refs, by ref as setStock does, creating pending
// placeholders for those not known yet (as lockOrder does), and then every
// existing SKU those orders hold, reserve or list, with skus (the SKUs the batch's
// events name), in byte order as lockSKUs does: the global order in which every
// apply transaction takes its locks. It returns the orders' rows as locked and
// the refs it created. SKU rows
// that do not exist yet are created later, by the entry that needs them.
func lockBatch(ctx context.Context, tx *ltx, refs, skus []string) (map[string]orderRow, []string, error) {
	var created []string
	tx.locked = make(map[string]bool, len(refs))
	orders := make(map[string]orderRow, len(refs))
	if len(refs) > 0 {
		var rows []struct {
			orderRow
			Inserted bool `db:"inserted"`
		}
		if err := tx.SelectContext(ctx, &rows, `
			INSERT INTO orders (ref, status) SELECT r, 'pending' FROM unnest($1::text[]) AS r ORDER BY r
			ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref RETURNING `+orderColumns+`, (xmax = 0) AS inserted`,
			pq.StringArray(refs)); err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			tx.locked[r.Ref] = true
			orders[r.Ref] = r.orderRow
			if r.Inserted {
				created = append(created, r.Ref)
			}
		}
	}
	if len(created) == len(refs) && len(skus) == 0 {
		return orders, created, nil // new orders hold nothing yet
	}
	var got []string
	return orders, created, tx.SelectContext(ctx, &got, `
		SELECT sku FROM inventory WHERE sku IN (
			SELECT sku FROM allocations WHERE order_ref = ANY($1)
			UNION SELECT sku FROM reservations WHERE order_ref = ANY($1) AND state = 'active' AND expires_at > $3
			UNION SELECT ln->>'sku' FROM orders o, jsonb_array_elements(o.lines) ln
				WHERE o.ref = ANY($1) AND ln->>'sku' <> '' AND (ln->>'quantity')::bigint > 0
			UNION SELECT unnest($2::text[]))
		ORDER BY sku COLLATE "C" FOR UPDATE`, pq.StringArray(refs), pq.StringArray(skus), tx.now)
}

// retryable reports a deadlock (40P01) or a serialization failure (40001): the
// transaction did nothing and may simply run again.
func retryable(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}
