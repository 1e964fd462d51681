package httpapi

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
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
	sku := param(c, "sku")
	st, err := s.setOnHand(c.UserContext(), sku, req)
	if err != nil {
		return err
	}
	s.audit(c, tokenActor, "set_level", "sku "+sku, fmt.Sprintf("on_hand %d", *req.OnHand))
	return c.JSON(st)
}

// setOnHand sets a SKU's level as a person stated it, as of now.
func (s *Server) setOnHand(ctx context.Context, sku string, req setStockRequest) (domain.Stock, error) {
	if err := check(req); err != nil {
		return domain.Stock{}, err
	}
	return s.p.Inventory.SetOnHand(ctx, sku, *req.OnHand, s.p.Now(), domain.StockManualSet)
}
