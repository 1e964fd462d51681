package httpapi

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

// conflictFilter checks the list filters the API and the dashboard share. The
// state defaults to open, what a person must look at; "all" lists every state but
// pending (conflicts that may be artefacts of arrival order, not yet shown).
func conflictFilter(state, kind, orderRef string, limit int) (domain.ConflictFilter, error) {
	f := domain.ConflictFilter{State: state, Kind: kind, OrderRef: orderRef, Limit: limit}
	switch f.State {
	case "":
		f.State = domain.ConflictOpen
	case "all":
		f.State = ""
	case domain.ConflictOpen, domain.ConflictResolved, domain.ConflictCleared, domain.ConflictPending:
	default:
		return f, domain.Errorf(domain.EINVALID, "state: %q is not a conflict state; use open (the default), resolved, cleared, pending or all", f.State)
	}
	if f.Limit < 1 || f.Limit > 1000 {
		return f, domain.Errorf(domain.EINVALID, "limit: must be between 1 and 1000")
	}
	return f, nil
}

// listConflicts is GET /api/v1/conflicts?state=&kind=&order_ref=&limit=; state
// defaults to open.
func (s *Server) listConflicts(c *fiber.Ctx) error {
	if err := onlyParams(c, "state", "kind", "order_ref", "limit"); err != nil {
		return err
	}
	f, err := conflictFilter(c.Query("state"), c.Query("kind"), c.Query("order_ref"), c.QueryInt("limit", 100))
	if err != nil {
		return err
	}
	list, err := s.p.Conflicts.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"conflicts": list})
}

type resolveRequest struct {
	Note string `json:"note" validate:"required,max=2000"`
}

// resolveConflict is POST /api/v1/conflicts/:id/resolve {note}.
func (s *Server) resolveConflict(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return domain.Errorf(domain.EINVALID, "conflict id %q is not a number", c.Params("id"))
	}
	var req resolveRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	cf, err := s.resolve(c.UserContext(), id, req)
	if err != nil {
		return err
	}
	s.audit(c, tokenActor, "resolve", fmt.Sprintf("conflict %d", id), req.Note)
	return c.JSON(cf)
}

// resolve closes an open conflict with a person's note.
func (s *Server) resolve(ctx context.Context, id int64, req resolveRequest) (domain.Conflict, error) {
	if err := check(req); err != nil {
		return domain.Conflict{}, err
	}
	cf, err := s.p.Conflicts.Resolve(ctx, id, req.Note)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return cf, domain.Errorf(domain.ENOTFOUND, "no conflict %d", id)
	}
	return cf, err
}
