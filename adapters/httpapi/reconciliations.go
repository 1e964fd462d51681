package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/web"
)

// reconciliationRequest is the body of POST /api/v1/reconciliations.
type reconciliationRequest struct {
	// Since and Until are RFC 3339 times; Since may also be a duration back from
	// now ("24h"). Until defaults to now.
	Since   string   `json:"since" validate:"required,max=64"`
	Until   string   `json:"until" validate:"max=64"`
	Sources []string `json:"sources" validate:"max=100,dive,required,max=200"`
	DryRun  bool     `json:"dry_run"`
}

// parseWhen reads an RFC 3339 time, or a duration back from now.
func parseWhen(field, v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, domain.Errorf(domain.EINVALID, "%s: %q is neither an RFC 3339 time (2026-11-30T02:30:00Z) nor a duration back from now (24h)", field, v)
}

// createReconciliation is POST /api/v1/reconciliations {since, until?, sources?, dry_run?}:
// it stores a running report, queues the run and answers 202 {id, status} at once.
func (s *Server) createReconciliation(c *fiber.Ctx) error {
	if s.p.StartReconciliation == nil {
		return domain.Errorf(domain.EUNAVAILABLE, "reconciliation is not available on this server")
	}
	var req reconciliationRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	now := s.p.Now()
	r := domain.ReconciliationRequest{DryRun: req.DryRun, Sources: req.Sources, Until: now.UTC()}
	var err error
	if r.Since, err = parseWhen("since", req.Since, now); err != nil {
		return err
	}
	if req.Until != "" {
		if r.Until, err = parseWhen("until", req.Until, now); err != nil {
			return err
		}
	}
	rec, err := s.p.StartReconciliation(c.UserContext(), r)
	if err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(fiber.Map{"id": rec.ID, "status": rec.Status})
}

// getReconciliation is GET /api/v1/reconciliations/:id.
func (s *Server) getReconciliation(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return domain.Errorf(domain.EINVALID, "reconciliation id %q is not a number", c.Params("id"))
	}
	rec, err := s.reconciliation(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(rec)
}

func (s *Server) reconciliation(ctx context.Context, id int64) (domain.Reconciliation, error) {
	if s.p.Reconciliations == nil {
		return domain.Reconciliation{}, domain.Errorf(domain.ENOTFOUND, "no reconciliation %d", id)
	}
	rec, err := s.p.Reconciliations.Get(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return rec, domain.Errorf(domain.ENOTFOUND, "no reconciliation %d", id)
	}
	return rec, err
}

// listReconciliations is GET /api/v1/reconciliations?limit=, newest first.
func (s *Server) listReconciliations(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", 50)
	if limit < 1 || limit > 1000 {
		return domain.Errorf(domain.EINVALID, "limit: must be between 1 and 1000")
	}
	list := []domain.Reconciliation{}
	if s.p.Reconciliations != nil {
		var err error
		if list, err = s.p.Reconciliations.List(c.UserContext(), limit); err != nil {
			return err
		}
	}
	return c.JSON(fiber.Map{"reconciliations": list})
}

// opsReconciliations is the dashboard's list of reconciliation runs.
func (s *Server) opsReconciliations(c *fiber.Ctx) error {
	page := web.Page{Title: "Reconciliations"}
	list := []domain.Reconciliation{}
	if s.p.Reconciliations != nil {
		var err error
		if list, err = s.p.Reconciliations.List(c.UserContext(), 100); err != nil {
			_, page.Error = s.failure(c, err)
		}
	}
	type row struct {
		domain.Reconciliation
		Compared, Missing, Repaired, Conflicts, Errors int
		SourceNames                                    string
	}
	rows := make([]row, len(list))
	for i, r := range list {
		rows[i].Reconciliation = r
		var names []string
		for _, src := range r.Sources {
			rows[i].Compared += src.Compared
			rows[i].Missing += src.Missing
			rows[i].Repaired += src.Repaired
			rows[i].Conflicts += src.Conflicts
			rows[i].Errors += len(src.Errors)
			names = append(names, src.Source)
		}
		rows[i].SourceNames = strings.Join(names, ", ")
	}
	page.Body = rows
	return s.render(c, http.StatusOK, "reconciliations", page)
}
