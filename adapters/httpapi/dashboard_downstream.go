package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/web"
)

// The dashboard's downstream pages: destinations (with the Enable button) and
// deliveries (filters, a delivery's attempts, Retry one, Retry all matching).
// Each button calls the same helper as the matching API call (enable,
// retryMatching, Deliveries.Retry) and is recorded in the audit trail.

func (s *Server) mountDownstreamPages(ops fiber.Router, auth fiber.Handler, form []fiber.Handler) {
	ops.Get("/destinations", auth, s.opsDestinations)
	ops.Post("/destinations/:id/enable", append(form, s.opsEnableDestination)...)
	ops.Get("/deliveries", auth, s.opsDeliveries)
	ops.Post("/deliveries/retry", append(form, s.opsRetryMatching)...)
	ops.Get("/deliveries/:id", auth, s.opsDelivery)
	ops.Post("/deliveries/:id/retry", append(form, s.opsRetryDelivery)...)
}

// deliveryStatuses are the statuses a delivery filter offers, in the order a
// delivery passes through them.
var deliveryStatuses = []domain.DeliveryStatus{domain.DeliveryPending, domain.DeliveryFailed, domain.DeliveryDead, domain.DeliveryDelivered}

type destinationRow struct {
	destinationJSON
	Pending, Failed, Dead int
}

type destinationsPage struct {
	Destinations []destinationRow
}

// destinationRows is every configured destination with its state and the
// deliveries it has waiting, by status.
func (s *Server) destinationRows(ctx context.Context) ([]destinationRow, error) {
	list, err := s.destinations(ctx)
	if err != nil {
		return nil, err
	}
	var counts map[string]map[domain.DeliveryStatus]int
	if d := s.p.Downstream; d != nil && d.Counts != nil && len(list) > 0 {
		if counts, err = d.Counts(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]destinationRow, len(list))
	for i, d := range list {
		n := counts[d.ID]
		out[i] = destinationRow{destinationJSON: d, Pending: n[domain.DeliveryPending], Failed: n[domain.DeliveryFailed], Dead: n[domain.DeliveryDead]}
	}
	return out, nil
}

func (s *Server) destinationsList(c *fiber.Ctx, status int, errMsg, notice string) error {
	var b destinationsPage
	page := web.Page{Title: "Destinations", Nav: "destinations", Error: errMsg, Notice: notice, Body: &b}
	list, err := s.destinationRows(c.UserContext())
	if err != nil {
		st, msg := s.failure(c, err)
		if page.Error == "" {
			status, page.Error = st, msg
		}
	}
	b.Destinations = list
	return s.render(c, status, "destinations", page)
}

func (s *Server) opsDestinations(c *fiber.Ctx) error {
	notice := ""
	if id := c.Query("enabled"); id != "" {
		notice = fmt.Sprintf("Destination %s enabled; its waiting deliveries are queued again.", id)
	}
	return s.destinationsList(c, http.StatusOK, "", notice)
}

// opsEnableDestination is the Enable button: POST /api/v1/destinations/{id}/enable
// from the dashboard, recorded with who pressed it.
func (s *Server) opsEnableDestination(c *fiber.Ctx) error {
	id := param(c, "id")
	if err := s.enable(c.UserContext(), id); err != nil {
		st, msg := s.failure(c, err)
		if st == http.StatusNotFound {
			msg += "; press Enable beside a destination listed below"
		}
		return s.destinationsList(c, st, "Not enabled: "+msg+".", "")
	}
	s.audit(c, s.actor(c), "enable_destination", "destination "+id, "")
	return c.Redirect("/ops/destinations?enabled="+url.QueryEscape(id), http.StatusSeeOther)
}

type deliveriesPage struct {
	Destination, Status, OrderRef string
	Destinations                  []string
	Statuses                      []domain.DeliveryStatus
	Deliveries                    []deliveryJSON
	Next                          int64 // the after= of the next (older) page; 0 on the last
	// Retryable: the filters name a destination and a status that Retry all
	// matching takes (failed or dead).
	Retryable bool
}

func (s *Server) destinationIDs() []string {
	var out []string
	if s.p.Downstream != nil {
		for _, d := range s.p.Downstream.Destinations {
			out = append(out, d.ID)
		}
	}
	return out
}

// deliveryList renders the deliveries page for the query's filters.
func (s *Server) deliveryList(c *fiber.Ctx, status int, errMsg, notice string) error {
	b := deliveriesPage{Destination: c.Query("destination"), Status: c.Query("status"), OrderRef: strings.TrimSpace(c.Query("order_ref")),
		Destinations: s.destinationIDs(), Statuses: deliveryStatuses}
	page := web.Page{Title: "Deliveries", Nav: "deliveries", Error: errMsg, Notice: notice, Body: &b}
	f, err := s.deliveryFilter(c)
	f.Limit, f.OrderRef = pageSize, b.OrderRef
	if err == nil && s.p.Downstream != nil {
		var list []domain.Outbound
		list, err = s.p.Downstream.Deliveries.List(c.UserContext(), f)
		for _, o := range list {
			b.Deliveries = append(b.Deliveries, deliveryView(o))
		}
	}
	if err != nil {
		st, msg := s.failure(c, err)
		if page.Error == "" {
			status, page.Error = st, msg+". Pick the filters from the lists above."
		}
		return s.render(c, status, "deliveries", page)
	}
	if len(b.Deliveries) == pageSize {
		b.Next = b.Deliveries[len(b.Deliveries)-1].ID
	}
	b.Retryable = f.Destination != "" && (f.Status == domain.DeliveryDead || f.Status == domain.DeliveryFailed)
	return s.render(c, status, "deliveries", page)
}

func (s *Server) opsDeliveries(c *fiber.Ctx) error {
	notice := ""
	if n := c.Query("queued"); n != "" {
		notice = "Queued again: " + n + " deliveries, attempts counted from zero and the same webhook-id. Reload to see them go out."
	}
	return s.deliveryList(c, http.StatusOK, "", notice)
}

type deliveryPage struct {
	D        deliveryJSON
	Attempts []attemptJSON
}

// deliveryDetail renders one delivery and its attempts, with an error or a notice.
func (s *Server) deliveryDetail(c *fiber.Ctx, status int, id int64, errMsg, notice string) error {
	var (
		o        domain.Outbound
		attempts []domain.DeliveryAttempt
		err      error = domain.Errorf(domain.ENOTFOUND, "no delivery %d", id)
	)
	if s.p.Downstream != nil {
		o, attempts, err = s.p.Downstream.Deliveries.Delivery(c.UserContext(), id)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			err = domain.Errorf(domain.ENOTFOUND, "no delivery %d", id)
		}
	}
	if err != nil {
		st, msg := s.failure(c, err)
		return s.render(c, st, "message", web.Page{Title: "Delivery", Nav: "deliveries",
			Error: msg + ". Check the id, or find the delivery in the list."})
	}
	b := deliveryPage{D: deliveryView(o)}
	for _, a := range attempts {
		b.Attempts = append(b.Attempts, attemptJSON{At: a.At, StatusCode: a.StatusCode, LatencyMS: a.Latency.Milliseconds(), Error: a.Error})
	}
	return s.render(c, status, "delivery", web.Page{Title: fmt.Sprintf("Delivery %d", id), Nav: "deliveries", Error: errMsg, Notice: notice, Body: b})
}

// opsDeliveryID reads the :id of a delivery's page, or renders why it is not one.
func (s *Server) opsDeliveryID(c *fiber.Ctx) (int64, bool, error) {
	id, err := deliveryID(c)
	if err != nil {
		st, msg := s.failure(c, err)
		return 0, false, s.render(c, st, "message", web.Page{Title: "Delivery", Nav: "deliveries",
			Error: msg + "; delivery ids are whole numbers, as listed on the Deliveries page."})
	}
	return id, true, nil
}

func (s *Server) opsDelivery(c *fiber.Ctx) error {
	id, ok, err := s.opsDeliveryID(c)
	if !ok {
		return err
	}
	notice := ""
	if c.Query("retried") != "" {
		notice = "Queued again, attempts counted from zero, with the same webhook-id. Reload to see the new attempt."
	}
	return s.deliveryDetail(c, http.StatusOK, id, "", notice)
}

// opsRetryDelivery is the Retry button: POST /api/v1/deliveries/{id}/retry from
// the dashboard, recorded with who pressed it.
func (s *Server) opsRetryDelivery(c *fiber.Ctx) error {
	id, ok, err := s.opsDeliveryID(c)
	if !ok {
		return err
	}
	if s.p.Downstream == nil {
		return s.deliveryDetail(c, http.StatusNotFound, id, "", "")
	}
	o, err := s.p.Downstream.Deliveries.Retry(c.UserContext(), id)
	if err != nil {
		st, msg := s.failure(c, err)
		if st == http.StatusNotFound {
			return s.render(c, st, "message", web.Page{Title: "Retry", Nav: "deliveries", Error: msg + ". Find the delivery in the list and try again."})
		}
		return s.deliveryDetail(c, st, id, "Not retried: "+msg, "")
	}
	s.enqueueDeliveries(c.UserContext(), []domain.Outbound{o})
	s.audit(c, s.actor(c), "retry_delivery", fmt.Sprintf("delivery %d", id), o.Destination)
	return c.Redirect(fmt.Sprintf("/ops/deliveries/%d?retried=1", id), http.StatusSeeOther)
}

// formTime reads a time field of a form: RFC 3339, a browser's datetime-local
// value (taken as UTC), or a duration back from now ("24h"); empty is open.
func formTime(field, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return parseWhen(field, v, now)
}

// opsRetryMatching is Retry all matching: POST /api/v1/deliveries/retry from the
// dashboard, for dead or failed deliveries of one destination created in a
// window, once the person ticked the confirmation (no script: the form's
// required checkbox, checked again here).
func (s *Server) opsRetryMatching(c *fiber.Ctx) error {
	get := func(k string) string { return strings.Clone(formValue(c, k)) }
	dest, status := get("destination"), get("status")
	since, err := formTime("since", get("since"), s.p.Now())
	var until time.Time
	if err == nil {
		until, err = formTime("until", get("until"), s.p.Now())
	}
	if err == nil && status != string(domain.DeliveryDead) && status != string(domain.DeliveryFailed) {
		err = domain.Errorf(domain.EINVALID, "status: retry all matching takes dead or failed deliveries, not %q", status)
	}
	if err == nil && get("confirm") != "yes" {
		err = domain.Errorf(domain.EINVALID, "tick the confirmation box to retry every matching delivery")
	}
	n := 0
	if err == nil {
		n, err = s.retryMatching(c.UserContext(), dest, status, since, until)
	}
	if err != nil {
		st, msg := s.failure(c, err)
		return s.render(c, st, "message", web.Page{Title: "Retry all matching", Nav: "deliveries",
			Error: "Nothing was retried: " + msg + ". Go back, pick a destination and dead or failed, and tick the box."})
	}
	s.audit(c, s.actor(c), "retry_deliveries", "destination "+dest,
		fmt.Sprintf("%d queued; status=%s since=%q until=%q", n, status, get("since"), get("until")))
	return c.Redirect(fmt.Sprintf("/ops/deliveries?destination=%s&status=%s&queued=%d", url.QueryEscape(dest), url.QueryEscape(status), n), http.StatusSeeOther)
}

// orderDeliveries is what downstream was sent of an order, newest first, for
// the order page (nil when no destination is configured).
func (s *Server) orderDeliveries(ctx context.Context, ref string) ([]deliveryJSON, error) {
	d := s.p.Downstream
	if d == nil || len(d.Destinations) == 0 || d.Deliveries == nil {
		return nil, nil
	}
	list, err := d.Deliveries.List(ctx, domain.DeliveryFilter{OrderRef: ref, Limit: 100})
	out := make([]deliveryJSON, len(list))
	for i, o := range list {
		out[i] = deliveryView(o)
	}
	return out, err
}

// publishedOf is what each stock channel was last told of sku (nil when none).
func (s *Server) publishedOf(ctx context.Context, sku string) ([]domain.PublishedStock, error) {
	if d := s.p.Downstream; d != nil && d.PublishedOf != nil {
		return d.PublishedOf(ctx, sku)
	}
	return nil, nil
}

// downstreamFlags is what the overview flags of downstream and reconciliation.
type downstreamFlags struct {
	Dead            []destinationRow // destinations with dead deliveries
	Disabled        []destinationRow
	DownstreamError string
	Reconciliations []reconciliationFlag
	ReconError      string
}

type reconciliationFlag struct {
	domain.Reconciliation
	F domain.ReconciliationFindings
}

// flagWindow is how far back the overview flags reconciliation runs.
const flagWindow = 48 * time.Hour

func (s *Server) downstreamFlags(c *fiber.Ctx) downstreamFlags {
	var b downstreamFlags
	ctx := c.UserContext()
	rows, err := s.destinationRows(ctx)
	if err != nil {
		_, b.DownstreamError = s.failure(c, err)
	}
	for _, r := range rows {
		if r.Dead > 0 {
			b.Dead = append(b.Dead, r)
		}
		if !r.Enabled {
			b.Disabled = append(b.Disabled, r)
		}
	}
	if s.p.Reconciliations == nil {
		return b
	}
	list, err := s.p.Reconciliations.List(ctx, 20)
	if err != nil {
		_, b.ReconError = s.failure(c, err)
	}
	for _, r := range list {
		if r.StartedAt.Before(s.p.Now().Add(-flagWindow)) {
			break // newest first
		}
		if r.Troubled() {
			b.Reconciliations = append(b.Reconciliations, reconciliationFlag{r, r.Findings()})
		}
	}
	return b
}
