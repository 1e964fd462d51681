package httpapi

import (
	"context"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

var validate = validator.New(validator.WithRequiredStructEnabled())

// decodeBody parses a JSON body into v and validates it. The error names the
// field and what would be valid.
func decodeBody(c *fiber.Ctx, v any) error {
	if err := c.BodyParser(v); err != nil {
		return domain.Errorf(domain.EINVALID, "the body is not valid JSON for this endpoint: %v", err)
	}
	if err := stringsError(v); err != nil {
		return err
	}
	return check(v)
}

// check validates a request however it arrived (JSON body or dashboard form).
func check(v any) error {
	if err := validate.Struct(v); err != nil {
		if verrs, ok := err.(validator.ValidationErrors); ok && len(verrs) > 0 {
			fe := verrs[0]
			return domain.Errorf(domain.EINVALID, "%s: failed %q%s", fe.Field(), fe.Tag(), paramText(fe.Param()))
		}
		return domain.Errorf(domain.EINVALID, "%v", err)
	}
	return nil
}

func paramText(p string) string {
	if p == "" {
		return ""
	}
	return " (" + p + ")"
}

func init() {
	// Validation errors name fields as clients write them: by their JSON name.
	validate.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		return name
	})
}

// getStock is GET /api/v1/inventory/:sku.
func (s *Server) getStock(c *fiber.Ctx) error {
	sku := param(c, "sku")
	st, err := s.p.Inventory.Stock(c.UserContext(), sku)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.Errorf(domain.ENOTFOUND, "no SKU %q: set its stock with PUT /api/v1/inventory/%s {\"on_hand\": N}", sku, url.PathEscape(sku))
	}
	if err != nil {
		return err
	}
	return c.JSON(st)
}

type setStockRequest struct {
	OnHand *int64 `json:"on_hand" validate:"required,min=0"`
}

// setStock is PUT /api/v1/inventory/:sku {on_hand}: a person's absolute level, as of now.
func (s *Server) setStock(c *fiber.Ctx) error {
	var req setStockRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	st, err := s.setOnHand(c.UserContext(), param(c, "sku"), req)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

// setOnHand sets a SKU's level as a person stated it, as of now.
func (s *Server) setOnHand(ctx context.Context, sku string, req setStockRequest) (domain.Stock, error) {
	if err := check(req); err != nil {
		return domain.Stock{}, err
	}
	return s.p.Inventory.SetOnHand(ctx, sku, *req.OnHand, s.p.Now(), domain.StockManualSet)
}

// conflictFilter checks the list filters the API and the dashboard share.
func conflictFilter(state, kind, orderRef string, limit int) (domain.ConflictFilter, error) {
	f := domain.ConflictFilter{State: state, Kind: kind, OrderRef: orderRef, Limit: limit}
	if f.State != "" && f.State != domain.ConflictOpen && f.State != domain.ConflictResolved {
		return f, domain.Errorf(domain.EINVALID, "state: %q is not a conflict state; use open or resolved", f.State)
	}
	if f.Limit < 1 || f.Limit > 1000 {
		return f, domain.Errorf(domain.EINVALID, "limit: must be between 1 and 1000")
	}
	return f, nil
}

// listConflicts is GET /api/v1/conflicts?state=&kind=&order_ref=&limit=.
func (s *Server) listConflicts(c *fiber.Ctx) error {
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
