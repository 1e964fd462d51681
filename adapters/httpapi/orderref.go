package httpapi

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

// "The customer says they paid": every request that names an order must be
// findable by it, refused ones too. The ingress calls noteOrderRef once it has
// the body; the order the body seems to name (domain.OrderRefHint, unverified)
// then rides on the request's context to the rejection it may become, and each
// stored entry gets the order its own message names.

type orderRefKey struct{}

// noteOrderRef reads the order a request's body seems to name, before any check
// of it, and keeps it on the request's context for recordRejection. It is a hint
// for ops, never a fact: a refused request proves nothing. It returns the ref,
// which is also the stored entry's when the entry's body is the request's (one
// parse of the body, not two).
func (s *Server) noteOrderRef(c *fiber.Ctx, src domain.Source, body []byte) string {
	ref := domain.OrderRefHint(body, src.Setting("order_ref_key", ""))
	if ref != "" {
		c.SetUserContext(context.WithValue(c.UserContext(), orderRefKey{}, ref))
	}
	return ref
}

// orderRefInbox puts order refs on what the ingress stores: each entry's from its
// own message (a batch carries several orders), a rejection's from the context.
type orderRefInbox struct {
	domain.Inbox
	sources domain.SourceLookup
}

func (b orderRefInbox) Insert(ctx context.Context, entries []domain.InboxEntry) ([]domain.InsertResult, error) {
	for i := range entries {
		if entries[i].OrderRef != "" {
			continue
		}
		key := ""
		if src, ok := b.sources.Source(entries[i].Source); ok {
			key = src.Setting("order_ref_key", "")
		}
		entries[i].OrderRef = domain.OrderRefHint(entries[i].Body, key)
	}
	return b.Inbox.Insert(ctx, entries)
}

func (b orderRefInbox) Reject(ctx context.Context, r domain.Rejection) error {
	if ref, ok := ctx.Value(orderRefKey{}).(string); ok && r.OrderRef == "" {
		r.OrderRef = ref
	}
	return b.Inbox.Reject(ctx, r)
}
