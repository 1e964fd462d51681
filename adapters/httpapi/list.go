package httpapi

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

// The API's list endpoints: orders and inventory paged by key (`after` is the
// `next` of the previous page), and the requests that name an order.

// queryLimit reads ?limit= (default def), refusing what is not a number in 1..1000.
func queryLimit(c *fiber.Ctx, def int) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 1000 {
		return 0, domain.Errorf(domain.EINVALID, "limit: %q is not a number between 1 and 1000", raw)
	}
	return n, nil
}

var orderStatuses = []string{"pending", "placed", "confirmed", "fulfilled", "cancelled"}

var paymentStatuses = []string{"unpaid", "authorized", "partially_paid", "paid", "partially_refunded", "refunded",
	"overpaid", "disputed", "charged_back"}

// orderCursor is the opaque `next` of an orders page: the last order's
// (updated_at, ref).
func orderCursor(o domain.Order) string {
	return base64.RawURLEncoding.EncodeToString([]byte(o.UpdatedAt.UTC().Format(time.RFC3339Nano) + "|" + o.Ref))
}

func parseOrderCursor(raw string) (*domain.OrderCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	at, ref, ok := strings.Cut(string(b), "|")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if err != nil || !ok || terr != nil {
		return nil, domain.Errorf(domain.EINVALID, "after: %q is not a cursor; pass the \"next\" of the previous page as it is", raw)
	}
	return &domain.OrderCursor{UpdatedAt: t, Ref: ref}, nil
}

// orderFilter checks the filters of GET /api/v1/orders and the dashboard's list.
func orderFilter(c *fiber.Ctx) (domain.OrderFilter, error) {
	var f domain.OrderFilter
	var err error
	if f.Limit, err = queryLimit(c, 100); err != nil {
		return f, err
	}
	if v := c.Query("status"); v != "" {
		if !slices.Contains(orderStatuses, v) {
			return f, domain.Errorf(domain.EINVALID, "status: %q is not an order status; use one of %s", v, strings.Join(orderStatuses, ", "))
		}
		f.Status = domain.OrderStatus(v)
	}
	if v := c.Query("payment_status"); v != "" {
		if !slices.Contains(paymentStatuses, v) {
			return f, domain.Errorf(domain.EINVALID, "payment_status: %q is not a payment status; use one of %s", v, strings.Join(paymentStatuses, ", "))
		}
		f.PaymentStatus = domain.PaymentStatus(v)
	}
	if v := c.Query("updated_since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, domain.Errorf(domain.EINVALID, "updated_since: %q is not an RFC 3339 time, e.g. 2026-01-02T15:04:05Z", v)
		}
		f.UpdatedSince = t
	}
	if v := c.Query("after"); v != "" {
		if f.After, err = parseOrderCursor(v); err != nil {
			return f, err
		}
	}
	return f, nil
}

type orderSummaryJSON struct {
	Ref           string               `json:"ref"`
	Status        domain.OrderStatus   `json:"status"`
	PaymentStatus domain.PaymentStatus `json:"payment_status"`
	Currency      string               `json:"currency"`
	Total         int64                `json:"total"`
	Lines         []lineJSON           `json:"lines"`
	CreatedAt     time.Time            `json:"created_at"`
	UpdatedAt     time.Time            `json:"updated_at"`
}

func orderSummary(o domain.Order) orderSummaryJSON {
	lines := make([]lineJSON, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = lineJSON(l)
	}
	return orderSummaryJSON{Ref: o.Ref, Status: o.DisplayStatus(), PaymentStatus: o.PaymentStatus, Currency: o.Currency,
		Total: o.Total, Lines: lines, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// listOrders is GET /api/v1/orders?status=&payment_status=&updated_since=&limit=&after=,
// newest change first; "next" is null on the last page.
func (s *Server) listOrders(c *fiber.Ctx) error {
	if err := onlyParams(c, "status", "payment_status", "updated_since", "limit", "after"); err != nil {
		return err
	}
	f, err := orderFilter(c)
	if err != nil {
		return err
	}
	list, err := s.ops().Orders(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]orderSummaryJSON, len(list))
	for i, o := range list {
		out[i] = orderSummary(o)
	}
	var next *string
	if len(list) == f.Limit {
		n := orderCursor(list[len(list)-1])
		next = &n
	}
	return c.JSON(fiber.Map{"orders": out, "next": next})
}

// stockFilter checks the filters of GET /api/v1/inventory and the dashboard's list.
func stockFilter(c *fiber.Ctx) (domain.StockFilter, error) {
	var f domain.StockFilter
	var err error
	if f.Limit, err = queryLimit(c, 100); err != nil {
		return f, err
	}
	switch v := c.Query("tracked"); v {
	case "":
	case "true", "false":
		b := v == "true"
		f.Tracked = &b
	default:
		return f, domain.Errorf(domain.EINVALID, "tracked: %q is not true or false", v)
	}
	if v := c.Query("below"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return f, domain.Errorf(domain.EINVALID, "below: %q is not a whole number (SKUs with fewer available are listed)", v)
		}
		f.Below = &n
	}
	switch v := c.Query("backordered"); v {
	case "", "false":
	case "true":
		f.Backordered = true
	default:
		return f, domain.Errorf(domain.EINVALID, "backordered: %q is not true or false", v)
	}
	f.After = strings.Clone(c.Query("after"))
	return f, nil
}

// listInventory is GET /api/v1/inventory?tracked=&below=&backordered=&limit=&after=,
// in SKU order; "next" (the last SKU) is null on the last page.
func (s *Server) listInventory(c *fiber.Ctx) error {
	if err := onlyParams(c, "tracked", "below", "backordered", "limit", "after"); err != nil {
		return err
	}
	f, err := stockFilter(c)
	if err != nil {
		return err
	}
	list, err := s.ops().StockList(c.UserContext(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []domain.StockRow{}
	}
	var next *string
	if len(list) == f.Limit {
		n := list[len(list)-1].SKU
		next = &n
	}
	return c.JSON(fiber.Map{"inventory": list, "next": next})
}

// requestJSON is one request naming an order: a stored webhook (kind "webhook")
// or a refused request (kind "rejection", never stored, its order ref unverified).
type requestJSON struct {
	Kind string `json:"kind"`
	webhookJSON
	RejectionID      int64  `json:"rejection_id,omitempty"`
	Cause            string `json:"cause,omitempty"`
	Detail           string `json:"detail,omitempty"`
	OrderRef         string `json:"order_ref"`
	OrderRefVerified bool   `json:"order_ref_verified"`
}

// orderRequests lists the requests naming ref, newest first, filtered by source
// and status ("rejected" includes refused requests).
func (s *Server) orderRequests(c *fiber.Ctx, ref, source, status string, limit int) ([]requestJSON, error) {
	got, err := s.ops().OrderRequests(c.UserContext(), ref, limit)
	if err != nil {
		return nil, err
	}
	out := []requestJSON{}
	for _, e := range got.Webhooks {
		if (source == "" || e.Source == source) && (status == "" || e.Status == status) {
			out = append(out, requestJSON{Kind: "webhook", webhookJSON: webhookView(e, false), OrderRef: e.OrderRef, OrderRefVerified: e.OrderRefVerified})
		}
	}
	for _, r := range got.Rejections {
		if (source == "" || r.Source == source) && (status == "" || status == domain.InboxRejected) {
			out = append(out, requestJSON{Kind: "rejection",
				webhookJSON: webhookJSON{Source: r.Source, Status: domain.InboxRejected, ReceivedAt: r.ReceivedAt},
				RejectionID: r.ID, Cause: r.Cause, Detail: r.Detail, OrderRef: r.OrderRef})
		}
	}
	slices.SortStableFunc(out, func(a, b requestJSON) int { return b.ReceivedAt.Compare(a.ReceivedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// namedBy says what names an order that Tradewind has not applied: "2 webhooks
// name it: 1 queued, 1 rejected", or "" when nothing does.
func (s *Server) namedBy(c *fiber.Ctx, ref string) string {
	if s.p.Ops == nil {
		return ""
	}
	reqs, err := s.orderRequests(c, ref, "", "", 100)
	if err != nil || len(reqs) == 0 {
		return ""
	}
	counts := map[string]int{}
	for _, r := range reqs {
		st := r.Status
		if st == domain.InboxReceived {
			st = "queued"
		}
		counts[st]++
	}
	parts := []string{}
	for _, st := range []string{"queued", domain.InboxFailed, domain.InboxRejected, domain.InboxIgnored, domain.InboxApplied} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	noun, verb := "webhooks", "name"
	if len(reqs) == 1 {
		noun, verb = "webhook", "names"
	}
	return fmt.Sprintf("%d %s %s it: %s", len(reqs), noun, verb, strings.Join(parts, ", "))
}

// ops returns the reader of lists, or one that answers EUNAVAILABLE when none
// is wired (a server built for the ingress alone).
func (s *Server) ops() domain.OpsReader {
	if s.p.Ops == nil {
		return noOps{}
	}
	return s.p.Ops
}

// webhookMore reads the webhook filters beyond source and status: type, event
// id and a received time range (RFC 3339), from the query or a form.
func webhookMore(get func(string) string, f *domain.InboxFilter) error {
	f.EventType, f.EventID = strings.TrimSpace(get("type")), strings.TrimSpace(get("event_id"))
	for _, b := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := strings.TrimSpace(get(b.name))
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return domain.Errorf(domain.EINVALID, "%s: %q is not an RFC 3339 time, e.g. 2026-01-02T15:04:05Z", b.name, v)
		}
		*b.to = t
	}
	return nil
}

// queryOf reads a query parameter as a string of its own (Fiber's point into
// buffers the next request reuses).
func queryOf(c *fiber.Ctx) func(string) string {
	return func(k string) string { return strings.Clone(c.Query(k)) }
}
