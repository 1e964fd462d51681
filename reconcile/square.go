package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tradewind/tradewind/adapters/square"
	"github.com/tradewind/tradewind/domain"
)

// squarePage is how many payments are compared at once (Square's page).
const squarePage = 100

// reconcileSquare reconciles a Square source by its payments: the payments
// Square lists as created in the window (GET /v2/payments, oldest first) are
// compared, a page at a time in id order, with the payments Tradewind holds.
// Square lists no past webhook events, so a payment Tradewind does not hold at
// all is repaired from the listed Payment object as the payment.updated event
// the webhook would have carried (the Payment is its data.object.payment),
// under an event id of the reconciliation's own,
// "reconciliation:<payment id>:<updated_at>", and applied through the worker's
// path; its refund, when the payment names exactly one, likewise as
// refund.updated. A payment held differently (status, amount, currency) is a
// conflict that names both.
func reconcileSquare(ctx context.Context, r *Reconciler, src domain.Source, req Request, rep *report) error {
	api, err := square.NewAPI(src, r.p.HTTP)
	if err != nil {
		return err
	}
	api.Sleep = r.p.Sleep
	api.OnRetry = func(err error) { rep.errorf("%v", err) }
	s := &squareRun{}
	if s.run, err = newRun(r, src, req, rep); err != nil {
		return err
	}
	batch := make([]square.PaymentState, 0, squarePage)
	for raw, err := range api.Payments(ctx, req.Since, req.Until) {
		if err != nil {
			if ferr := s.compare(ctx, batch); ferr != nil {
				return ferr
			}
			if isDatabase(err) || ctx.Err() != nil {
				return err
			}
			rep.errorf("payments: %s", domain.ErrorMessage(err))
			return nil
		}
		p, err := square.Payment(src, raw)
		if err != nil {
			rep.errorf("%v", err)
			continue
		}
		if batch = append(batch, p); len(batch) == squarePage {
			if err := s.compare(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return s.compare(ctx, batch)
}

// squareRun is a Square source's run: its pass over Square's payments.
type squareRun struct {
	*run
}

// compare merges a page of payments (sorted here by id) with Tradewind's
// payments of the same ids (read in id order).
func (s *squareRun) compare(ctx context.Context, batch []square.PaymentState) error {
	if len(batch) == 0 {
		return nil
	}
	slices.SortFunc(batch, func(a, b square.PaymentState) int { return cmp.Compare(a.ID, b.ID) })
	refs := make([]string, len(batch))
	for i, p := range batch {
		refs[i] = p.ID
	}
	held, err := s.r.p.Store.Payments(ctx, square.Kind, refs)
	if err != nil {
		return dbError{err}
	}
	return Merge(ctx, Slice(batch), Slice(held),
		func(t square.PaymentState, u domain.HeldPayment) int { return cmp.Compare(t.ID, u.Ref) },
		func(t *square.PaymentState, u *domain.HeldPayment) error {
			if t == nil {
				return nil // read by id: cannot happen
			}
			s.rep.compared()
			var ours *domain.HeldState
			orderRef := t.OrderRef
			if u != nil {
				st := u.State()
				ours = &st
				if u.OrderRef != "" {
					orderRef = u.OrderRef
				}
			}
			f, detail := domain.ComparePayment(t.ID, t.State, ours)
			switch f {
			case domain.Missing:
				return s.repairPayment(ctx, t)
			case domain.Mismatch:
				s.rep.Mismatched++
				return s.conflict(ctx, f, orderRef, "Square: "+detail, "")
			}
			return nil
		})
}

// repairPayment repairs a payment Tradewind does not hold at all from the
// Payment Square lists.
func (s *squareRun) repairPayment(ctx context.Context, p *square.PaymentState) error {
	s.rep.Missing++
	body, err := square.PaymentEvent(*p, "reconciliation:"+p.ID+":"+p.UpdatedAt.Format(time.RFC3339Nano))
	if err != nil {
		return err
	}
	evs := []domain.InboxEntry{{Source: s.src.ID, Provider: s.src.Provider, EventID: "reconciliation:" + p.ID + ":" + p.UpdatedAt.Format(time.RFC3339Nano),
		EventType: "payment.updated", Body: body, OccurredAt: p.UpdatedAt}}
	refunded := p.State.Status == domain.PayRefunded || p.State.Status == domain.PayPartiallyRefunded
	unrepairable := false
	if refunded {
		id := "reconciliation:" + p.ID + ":refund"
		if len(p.RefundIDs) == 1 {
			id += ":" + p.RefundIDs[0]
		}
		body, ok, err := square.RefundEvent(*p, id)
		switch {
		case err != nil:
			return err
		case ok:
			evs = append(evs, domain.InboxEntry{Source: s.src.ID, Provider: s.src.Provider, EventID: id, EventType: "refund.updated",
				Body: body, OccurredAt: p.UpdatedAt})
		default:
			unrepairable = true
		}
	}
	repaired := true
	for _, e := range evs {
		ok, err := s.repairEvent(ctx, e)
		if err != nil {
			return err
		}
		repaired = repaired && ok
	}
	if unrepairable {
		// The payment is repaired; its refunds, whose amounts Square's payment
		// does not list apart, are a person's to check.
		s.rep.Mismatched++
		detail := fmt.Sprintf("Square: payment %s: provider %s over %d refunds, Tradewind nothing; the payment was repaired, its refunds were not (Square's payment does not list their amounts apart)",
			p.ID, p.State.Status, len(p.RefundIDs))
		if err := s.conflict(ctx, domain.Mismatch, p.OrderRef, detail, ""); err != nil {
			return err
		}
		return nil
	}
	if repaired && !s.dryRun {
		s.rep.Repaired++
	}
	return nil
}
