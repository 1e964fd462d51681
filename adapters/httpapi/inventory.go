package httpapi

import (
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
	st, err := s.p.Inventory.Stock(c.UserContext(), c.Params("sku"))
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.Errorf(domain.ENOTFOUND, "no SKU %q: set its stock with PUT /api/v1/inventory/%s {\"on_hand\": N}", c.Params("sku"), c.Params("sku"))
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
	st, err := s.p.Inventory.SetOnHand(c.UserContext(), c.Params("sku"), *req.OnHand, s.p.Now(), domain.StockManualSet)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

// listConflicts is GET /api/v1/conflicts?state=&kind=&order_ref=&limit=.
func (s *Server) listConflicts(c *fiber.Ctx) error {
	f := domain.ConflictFilter{State: c.Query("state"), Kind: c.Query("kind"), OrderRef: c.Query("order_ref"), Limit: c.QueryInt("limit", 100)}
	if f.State != "" && f.State != domain.ConflictOpen && f.State != domain.ConflictResolved {
		return domain.Errorf(domain.EINVALID, "state: %q is not a conflict state; use open or resolved", f.State)
	}
	if f.Limit < 1 || f.Limit > 1000 {
		return domain.Errorf(domain.EINVALID, "limit: must be between 1 and 1000")
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
	cf, err := s.p.Conflicts.Resolve(c.UserContext(), id, req.Note)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.Errorf(domain.ENOTFOUND, "no conflict %d", id)
	}
	if err != nil {
		return err
	}
	return c.JSON(cf)
}
