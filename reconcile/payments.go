package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"iter"
	"slices"

	"github.com/tradewind/tradewind/domain"
)

// The payments pass, for providers whose API lists payments (Stripe's payment
// intents, Square's payments): the payments listed for the window are
// compared, a page at a time in id order, with the payments Tradewind holds of
// the same ids (domain.ComparePayment). One Tradewind does not hold at all is
// repaired from what the provider lists, as only the provider's own file knows
// how; one held differently (status, amount, currency) is a conflict that
// names both.

// listedPayment is what the payments pass compares of a listed payment.
type listedPayment struct {
	ID string
	// OrderRef is the order the provider says the payment is for; Tradewind's
	// own, when it holds the payment, names the conflict's order instead.
	OrderRef string
	State    domain.HeldState
}

// paymentPass is one provider's payments pass; T is its reading of a listed
// payment.
type paymentPass[T any] struct {
	*run
	// provider names the provider in a conflict's detail ("Stripe: payment …").
	provider string
	// kind is the kind of Tradewind's payments from this provider (stripe.Kind).
	kind string
	// state is what is compared of a listed payment.
	state func(*T) listedPayment
	// repair repairs a payment Tradewind does not hold at all from its listing.
	repair func(ctx context.Context, p *T) error
	// counted, when set, tells a payment an earlier pass of the run has
	// counted already (Stripe's events pass, in a dry run): it is not
	// compared again.
	counted func(id string) bool
}

// inPages reads listing with read into pages of up to n payments, in the
// listing's order. A payment read cannot state is reported and left out. The
// page read before the listing's error is yielded before the error.
func inPages[T any](s *run, listing iter.Seq2[json.RawMessage, error], n int, read func(domain.Source, json.RawMessage) (T, error)) iter.Seq2[[]T, error] {
	return func(yield func([]T, error) bool) {
		page := make([]T, 0, n)
		for raw, err := range listing {
			if err != nil {
				if len(page) > 0 && !yield(page, nil) {
					return
				}
				yield(nil, err)
				return
			}
			p, err := read(s.src, raw)
			if err != nil {
				s.rep.errorf("%v", err)
				continue
			}
			if page = append(page, p); len(page) == n {
				if !yield(page, nil) {
					return
				}
				page = page[:0]
			}
		}
		if len(page) > 0 {
			yield(page, nil)
		}
	}
}

// compare merges a page of listed payments (sorted here by id) with
// Tradewind's payments of the same ids (read in id order).
func (s paymentPass[T]) compare(ctx context.Context, page []T) error {
	if len(page) == 0 {
		return nil
	}
	slices.SortFunc(page, func(a, b T) int { return cmp.Compare(s.state(&a).ID, s.state(&b).ID) })
	refs := make([]string, len(page))
	for i := range page {
		refs[i] = s.state(&page[i]).ID
	}
	held, err := s.r.p.Store.Payments(ctx, s.kind, refs)
	if err != nil {
		return dbError{err}
	}
	return Merge(ctx, Slice(page), Slice(held),
		func(t T, u domain.HeldPayment) int { return cmp.Compare(s.state(&t).ID, u.Ref) },
		func(t *T, u *domain.HeldPayment) error {
			if t == nil {
				return nil // read by id: cannot happen
			}
			s.rep.compared()
			theirs := s.state(t)
			var ours *domain.HeldState
			orderRef := theirs.OrderRef
			if u != nil {
				st := u.State()
				ours = &st
				if u.OrderRef != "" {
					orderRef = u.OrderRef
				}
			}
			if s.counted != nil && s.counted(theirs.ID) {
				return nil
			}
			f, detail := domain.ComparePayment(theirs.ID, theirs.State, ours)
			switch f {
			case domain.Missing:
				return s.repair(ctx, t)
			case domain.Mismatch:
				s.rep.Mismatched++
				return s.conflict(ctx, f, orderRef, s.provider+": "+detail, "")
			}
			return nil
		})
}
