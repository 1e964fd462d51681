package reconcile

import (
	"context"
	"fmt"
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
	api.Sleep, api.OnRetry = r.p.Sleep, rep.retried
	s := &squareRun{}
	if s.run, err = newRun(r, src, req, rep); err != nil {
		return err
	}
	pass := paymentPass[square.PaymentState]{
		run: s.run, provider: "Square", kind: square.Kind,
		state: func(p *square.PaymentState) listedPayment {
			return listedPayment{ID: p.ID, OrderRef: p.OrderRef, State: p.State}
		},
		repair: s.repairPayment,
	}
	for page, err := range inPages(s.run, api.Payments(ctx, req.Since, req.Until), squarePage, square.Payment) {
		if err != nil {
			return s.endPass(ctx, "payments", err)
		}
		if err := pass.compare(ctx, page); err != nil {
			return err
		}
	}
	return nil
}

// squareRun is a Square source's run: its payments pass (payments.go) over
// Square's payments.
type squareRun struct {
	*run
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
