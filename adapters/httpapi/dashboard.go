package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/web"
)

// The ops dashboard under /ops/: server-rendered pages over the same domain
// interfaces and helpers as the JSON API (replay, order, resolve, setOnHand, the
// filters), so a button does exactly what the matching API call does.

// Locals of a signed-in request: the session's cookie value and its id.
const (
	localSession   = "ops_session"
	localSessionID = "ops_session_id"
)

// pageSize is how many webhooks a page of the list shows.
const pageSize = 50

func (s *Server) mountDashboard() {
	ops := s.app.Group("/ops", s.opsHeaders, s.opsCheckInput)
	ops.Get("/static/ops.css", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		c.Type("css", "utf-8")
		return c.Send(web.CSS)
	})
	ops.Get("/login", s.opsLoginForm)
	ops.Post("/login", s.opsLogin)

	auth, form := s.opsAuth, []fiber.Handler{s.opsAuth, s.opsCSRF}
	// Signing out is a form with the form token, so a link or an image on another
	// site cannot sign anyone out; GET only points at the button.
	ops.Get("/logout", auth, s.opsLogoutPage)
	ops.Post("/logout", append(form, s.opsLogout)...)
	ops.Get("/", auth, s.opsOverview)
	ops.Get("/webhooks", auth, s.opsWebhooks)
	ops.Get("/webhooks/:id", auth, s.opsWebhook)
	ops.Post("/webhooks/replay", append(form, s.opsReplayMatching)...)
	ops.Post("/webhooks/:id/replay", append(form, s.opsReplay)...)
	ops.Get("/conflicts", auth, s.opsConflicts)
	ops.Post("/conflicts/:id/resolve", append(form, s.opsResolve)...)
	ops.Get("/orders", auth, s.opsOrder)
	ops.Get("/inventory", auth, s.opsInventory)
	ops.Get("/reconciliations", auth, s.opsReconciliations)
	ops.Post("/inventory", append(form, s.opsSetStock)...)
	s.mountOps(ops, auth, form)
	s.mountDownstreamPages(ops, auth, form) // dashboard_downstream.go
	ops.All("/*", auth, func(c *fiber.Ctx) error {
		return s.render(c, http.StatusNotFound, "message", web.Page{Title: "No such page",
			Error: fmt.Sprintf("There is no dashboard page at %s. Use the menu above.", c.Path())})
	})
}

// opsHeaders keeps pages out of caches and frames and allows no script at all.
func (s *Server) opsHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	return c.Next()
}

// opsCheckInput refuses a path, query string or form that PostgreSQL could not
// take (query.go), on a page rather than in JSON.
func (s *Server) opsCheckInput(c *fiber.Ctx) error {
	if err := inputError(c); err != nil {
		st, msg := s.failure(c, err)
		return s.render(c, st, "message", web.Page{Title: "Bad request", Error: "The address or the form was refused: " + msg + "."})
	}
	return c.Next()
}

// session returns the cookie value and id of c's session when it is signed by us,
// unexpired and still active in the session store (not signed out).
func (s *Server) session(c *fiber.Ctx) (value, id string, ok bool, err error) {
	value = strings.Clone(c.Cookies(sessionCookie))
	id, ok = s.sess.valid(value)
	if !ok || s.p.Sessions == nil {
		return "", "", false, nil
	}
	ok, err = s.p.Sessions.Active(c.UserContext(), id, s.p.Now())
	if err != nil || !ok {
		return "", "", false, err
	}
	return value, id, true, nil
}

// opsAuth sends anyone without an active session to the login page.
func (s *Server) opsAuth(c *fiber.Ctx) error {
	v, id, ok, err := s.session(c)
	if err != nil {
		st, msg := s.failure(c, err)
		return s.render(c, st, "message", web.Page{Title: "Sign-in unavailable",
			Error: "Your session could not be checked: " + msg + ". Reload the page in a moment."})
	}
	if !ok {
		next := "/ops/"
		if c.Method() == fiber.MethodGet {
			next = c.OriginalURL()
		}
		return c.Redirect("/ops/login?next="+url.QueryEscape(localNext(next)), http.StatusSeeOther)
	}
	c.Locals(localSession, v)
	c.Locals(localSessionID, id)
	return c.Next()
}

// opsCSRF refuses a form that does not carry the session's form token, in a form
// field or the X-CSRF-Token header; never in the query string, where it would be
// written to logs and histories.
func (s *Server) opsCSRF(c *fiber.Ctx) error {
	v, _ := c.Locals(localSession).(string)
	token := c.Get("X-CSRF-Token")
	if token == "" {
		token = formValue(c, "csrf")
	}
	if !s.sess.checkCSRF(v, token) {
		return s.render(c, http.StatusForbidden, "message", web.Page{Title: "Form refused",
			Error: "This form did not carry a valid form token (it is older than your session, or did not come from this dashboard). Go back, reload the page and submit it again."})
	}
	return c.Next()
}

// localNext keeps a post-login redirect on the dashboard.
func localNext(next string) string {
	if !strings.HasPrefix(next, "/ops/") || strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "/ops/log") {
		return "/ops/"
	}
	return next
}

// render writes a page; a signed-in person's pages carry the form token.
func (s *Server) render(c *fiber.Ctx, status int, name string, p web.Page) error {
	if v, ok := c.Locals(localSession).(string); ok {
		p.CSRF = s.sess.csrf(v)
		p.Actor = s.actor(c)
	}
	p.Version = s.p.Version
	c.Status(status).Type("html", "utf-8")
	return web.Render(c, name, p)
}

// failure is the status and the message a person sees for err. Internal errors
// are logged in full once and shown as a generic message.
func (s *Server) failure(c *fiber.Ctx, err error) (int, string) {
	status := statusByCode[domain.ErrorCode(err)]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.p.Logger.Error("dashboard request failed", slog.String("method", c.Method()), slog.String("path", c.Path()),
			slog.String("error", err.Error()))
	}
	return status, domain.ErrorMessage(err)
}

func (s *Server) opsLoginForm(c *fiber.Ctx) error {
	next := localNext(c.Query("next"))
	if _, _, ok, err := s.session(c); ok && err == nil {
		return c.Redirect(next, http.StatusSeeOther)
	}
	return s.render(c, http.StatusOK, "login", web.Page{Title: "Sign in", Body: struct{ Next string }{next}})
}

// opsLogin signs in with the API token, read from the form body only (a token in
// a URL would be logged). Wrong tokens count against the client's address, with
// wrong bearer tokens (auth.go); other clients are not affected.
func (s *Server) opsLogin(c *fiber.Ctx) error {
	next := localNext(formValue(c, "next"))
	name, actor := strings.TrimSpace(formValue(c, "name")), tokenActor
	var right bool
	var err error
	if name != "" {
		right, err = s.checkOperator(c, name, formValue(c, "token"))
		actor = name
	} else {
		right, err = s.checkGuess(c, formValue(c, "token"))
	}
	if err != nil {
		return s.render(c, http.StatusTooManyRequests, "login", web.Page{Title: "Sign in", Body: struct{ Next string }{next},
			Error: fmt.Sprintf("Too many wrong sign-ins from your address just now. Wait %s seconds, then paste TRADEWIND_API_TOKEN again.",
				string(c.Response().Header.Peek(fiber.HeaderRetryAfter)))})
	}
	if !right {
		return s.render(c, http.StatusUnauthorized, "login", web.Page{Title: "Sign in", Body: struct{ Next string }{next},
			Error: signInError(name)})
	}
	if s.p.Sessions == nil {
		return s.render(c, http.StatusServiceUnavailable, "login", web.Page{Title: "Sign in", Body: struct{ Next string }{next},
			Error: "This server has no session store, so nobody can sign in to the dashboard."})
	}
	v, id, exp := s.sess.issue()
	if err := s.p.Sessions.Create(c.UserContext(), domain.Session{ID: id, CreatedAt: s.p.Now(), ExpiresAt: exp}); err != nil {
		st, msg := s.failure(c, err)
		return s.render(c, st, "login", web.Page{Title: "Sign in", Body: struct{ Next string }{next},
			Error: "You could not be signed in: " + msg + ". Try again in a moment."})
	}
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: v, Path: "/ops", Expires: exp, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
	if actor != tokenActor {
		s.setActor(c, id, actor, exp) // without it, the session is the API token's
	}
	return c.Redirect(next, http.StatusSeeOther)
}

// opsLogoutPage answers GET /ops/logout without signing out: 405, and a page
// whose Sign out button (in the menu) posts the form.
func (s *Server) opsLogoutPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderAllow, fiber.MethodPost)
	return s.render(c, http.StatusMethodNotAllowed, "message", web.Page{Title: "Sign out",
		Notice: "You are still signed in. To sign out, press Sign out at the top of this page."})
}

// opsLogout ends the session in the store, so the cookie is worthless on every
// replica even if it was copied, and clears it in this browser.
func (s *Server) opsLogout(c *fiber.Ctx) error {
	id, _ := c.Locals(localSessionID).(string)
	if err := s.p.Sessions.Revoke(c.UserContext(), id); err != nil {
		st, msg := s.failure(c, err)
		return s.render(c, st, "message", web.Page{Title: "Sign out",
			Error: "You are still signed in: " + msg + ". Press Sign out again in a moment."})
	}
	for _, name := range []string{sessionCookie, actorCookie} {
		if name == actorCookie && c.Cookies(actorCookie) == "" {
			continue
		}
		c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/ops", Expires: time.Unix(0, 0), HTTPOnly: true,
			SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
	}
	return c.Redirect("/ops/login", http.StatusSeeOther)
}

type statusCount struct {
	Status string
	N      int
}

type overviewPage struct {
	Since             time.Time
	Total             int
	Counts            []statusCount
	CountsError       string
	OpenConflicts     int
	OpenConflictsMore bool
	QueueDepth        int
	QueueKnown        bool
	QueueError        string
	Rejections        []domain.Rejection
	RejectionsError   string
	Chart             chart
	Queues            []queueRow
	Sources           []sourceActivity
	ChartError        string
	Downstream        downstreamFlags // dead deliveries, disabled destinations, troubled reconciliations
}

// statusOrder is the order the overview lists inbox statuses in.
var statusOrder = []string{domain.InboxReceived, domain.InboxApplied, domain.InboxIgnored, domain.InboxFailed, domain.InboxRejected}

func (s *Server) opsOverview(c *fiber.Ctx) error {
	ctx := c.UserContext()
	b := overviewPage{Since: s.p.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)}
	hourly, hourlyErr := s.hourly.get(ctx, s.ops(), s.p.Now())
	if hourlyErr != nil {
		_, b.ChartError = s.failure(c, hourlyErr)
	} else {
		b.Chart, b.Sources = hourlyChart(hourly, s.p.Now()), activity(hourly, s.p.Now())
	}
	counts, err := statusCounts(hourly, hourlyErr)
	if s.p.Ops == nil {
		counts, err = s.p.Webhooks.CountByStatus(ctx, b.Since)
	} else {
		b.Since = hourWindow(s.p.Now())
	}
	if err != nil {
		_, b.CountsError = s.failure(c, err)
	} else {
		for _, st := range statusOrder {
			b.Counts = append(b.Counts, statusCount{st, counts[st]})
			b.Total += counts[st]
		}
	}
	const conflictCap = 1000
	var page web.Page
	if open, err := s.p.Conflicts.List(ctx, domain.ConflictFilter{State: domain.ConflictOpen, Limit: conflictCap}); err != nil {
		_, page.Error = s.failure(c, err)
	} else {
		b.OpenConflicts, b.OpenConflictsMore = len(open), len(open) == conflictCap
	}
	if s.p.Backlog == nil {
		b.QueueError = "not reported by this process"
	} else {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		n, err := s.p.Backlog.Backlog(qctx)
		cancel()
		if err != nil {
			b.QueueError = "Redis does not answer (TRADEWIND_REDIS_URL); webhooks are still stored and are queued when it returns"
		} else {
			b.QueueDepth, b.QueueKnown = n, true
		}
	}
	b.Queues = s.queueRows(ctx)
	b.Downstream = s.downstreamFlags(c)
	if rej, err := s.p.Webhooks.Rejections(ctx, 20); err != nil {
		_, b.RejectionsError = s.failure(c, err)
	} else {
		b.Rejections = rej
	}
	page.Title, page.Nav, page.Body = "Overview", "overview", b
	return s.render(c, http.StatusOK, "overview", page)
}

type webhooksPage struct {
	OrderRef       string
	Type, EventID  string
	Since, Until   string
	Requests       []requestJSON
	Source, Status string
	Statuses       []string
	Webhooks       []domain.InboxEntry
	Next           int64 // the before= of the next (older) page; 0 on the last
}

func (s *Server) opsWebhooks(c *fiber.Ctx) error {
	b := webhooksPage{Source: c.Query("source"), Status: c.Query("status"), Statuses: statusOrder, OrderRef: strings.TrimSpace(c.Query("order_ref"))}
	page := web.Page{Title: "Webhooks", Nav: "webhooks", Body: &b}
	b.Type, b.EventID, b.Since, b.Until = c.Query("type"), c.Query("event_id"), c.Query("since"), c.Query("until")
	if c.Query("replayed") != "" {
		page.Notice = "Replay queued for " + c.Query("replayed") + " webhook(s); reload to see their new status."
	}
	f, err := webhookFilter(b.Source, b.Status, pageSize, c.Query("before"))
	if err == nil {
		err = webhookMore(queryOf(c), &f)
	}
	if err == nil && b.OrderRef != "" {
		b.Requests, err = s.orderRequests(c, b.OrderRef, b.Source, b.Status, 200)
	} else if err == nil {
		b.Webhooks, err = s.p.Webhooks.List(c.UserContext(), f)
	}
	if err != nil {
		status, msg := s.failure(c, err)
		page.Error = msg
		return s.render(c, status, "webhooks", page)
	}
	if len(b.Webhooks) == pageSize {
		b.Next = b.Webhooks[len(b.Webhooks)-1].ID
	}
	return s.render(c, http.StatusOK, "webhooks", page)
}

type webhookPage struct {
	Events     []domain.NormalizedEvent
	E          domain.InboxEntry
	BodyText   string
	Base64     bool
	Replayable bool
}

// webhookDetail renders one webhook, with an error or a notice above it.
func (s *Server) webhookDetail(c *fiber.Ctx, status int, id int64, errMsg, notice string) error {
	e, err := s.webhook(c.UserContext(), id)
	if err != nil {
		st, msg := s.failure(c, err)
		return s.render(c, st, "message", web.Page{Title: "Webhook", Nav: "webhooks",
			Error: msg + ". Check the id, or find the webhook in the list."})
	}
	v := webhookView(e, true)
	e.Header = redactedHeaders(e.Header)
	events, _ := s.ops().EventsOf(c.UserContext(), id)
	return s.render(c, status, "webhook", web.Page{Title: fmt.Sprintf("Webhook %d", id), Nav: "webhooks", Error: errMsg, Notice: notice,
		Body: webhookPage{Events: events, E: e, BodyText: v.Body, Base64: v.BodyEncoding == "base64", Replayable: e.Status != domain.InboxApplied}})
}

func (s *Server) opsWebhook(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		st, msg := s.failure(c, err)
		return s.render(c, st, "message", web.Page{Title: "Webhook", Nav: "webhooks", Error: msg + "; webhook ids are whole numbers, as listed on the Webhooks page."})
	}
	notice := ""
	if c.Query("replayed") != "" {
		notice = "Replay queued: the webhook is back to received and is applied again in a moment. Reload to see its new status."
	}
	return s.webhookDetail(c, http.StatusOK, id, "", notice)
}

func (s *Server) opsReplay(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err == nil {
		_, err = s.replay(c.UserContext(), id)
	}
	if err != nil {
		st, msg := s.failure(c, err)
		if id == 0 || st == http.StatusNotFound {
			return s.render(c, st, "message", web.Page{Title: "Replay", Nav: "webhooks", Error: msg + ". Find the webhook in the list and try again."})
		}
		return s.webhookDetail(c, st, id, "Not replayed: "+msg, "")
	}
	s.audit(c, s.actor(c), "replay", fmt.Sprintf("webhook %d", id), "")
	return c.Redirect(fmt.Sprintf("/ops/webhooks/%d?replayed=1", id), http.StatusSeeOther)
}

type conflictsPage struct {
	State, Kind string
	Kinds       []string
	Conflicts   []domain.Conflict
	More        bool
}

var conflictKinds = []string{domain.ConflictPaidAfterCancelled, domain.ConflictAmountMismatch, domain.ConflictRefundExceedsCapture,
	domain.ConflictCurrencyMismatch, domain.ConflictOversold, domain.ConflictDispute, domain.ConflictStaleStock}

const conflictPageSize = 200

// conflictList renders the conflicts page for state and kind, with an error or a notice.
func (s *Server) conflictList(c *fiber.Ctx, status int, state, kind, errMsg, notice string) error {
	if state == "" {
		state = domain.ConflictOpen // what a person must look at
	}
	b := conflictsPage{State: state, Kind: kind, Kinds: conflictKinds}
	page := web.Page{Title: "Conflicts", Nav: "conflicts", Error: errMsg, Notice: notice, Body: &b}
	f, err := conflictFilter(state, kind, "", conflictPageSize)
	if err == nil {
		b.Conflicts, err = s.p.Conflicts.List(c.UserContext(), f)
	}
	if err != nil {
		status, page.Error = s.failure(c, err)
	}
	b.More = len(b.Conflicts) == conflictPageSize
	return s.render(c, status, "conflicts", page)
}

func (s *Server) opsConflicts(c *fiber.Ctx) error {
	notice := ""
	if id := c.Query("resolved"); id != "" {
		notice = fmt.Sprintf("Conflict %s resolved.", id)
	}
	return s.conflictList(c, http.StatusOK, c.Query("state"), c.Query("kind"), "", notice)
}

func (s *Server) opsResolve(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(param(c, "id"), 10, 64)
	if err != nil {
		return s.conflictList(c, http.StatusBadRequest, domain.ConflictOpen, "",
			fmt.Sprintf("Conflict id %q is not a number; use the Resolve button beside the conflict.", param(c, "id")), "")
	}
	note := strings.TrimSpace(formValue(c, "note"))
	_, err = s.resolve(c.UserContext(), id, resolveRequest{Note: note})
	if err != nil {
		st, msg := s.failure(c, err)
		if st == http.StatusBadRequest {
			msg = fmt.Sprintf("Conflict %d was not resolved: write a note (at most 2000 characters) saying what you did about it, then press Resolve again.", id)
		}
		return s.conflictList(c, st, domain.ConflictOpen, "", msg, "")
	}
	s.audit(c, s.actor(c), "resolve", fmt.Sprintf("conflict %d", id), note)
	return c.Redirect(fmt.Sprintf("/ops/conflicts?state=open&resolved=%d", id), http.StatusSeeOther)
}

type orderLine struct {
	SKU       string
	Quantity  int64
	UnitPrice string
}

type orderPage struct {
	Ref       string
	Q         string   // what was searched: a ref, an email or a payment id
	Choices   []string // several orders matched
	Named     string   // what names an order not applied ("2 webhooks name it: …")
	Requests  []requestJSON
	Payments  []paymentView
	Holdings  []domain.OrderHolding
	Found     bool
	O         domain.Order
	Status    domain.OrderStatus
	Total     string
	Lines     []orderLine
	Events    []domain.AppliedEvent
	Conflicts []domain.Conflict
	// Deliveries are what downstream was sent of the order; DeliveriesOn is
	// whether any destination is configured.
	Deliveries   []deliveryJSON
	DeliveriesOn bool
}

type paymentView struct {
	domain.PaymentLine
	Money string
}

func (s *Server) opsOrder(c *fiber.Ctx) error {
	b := orderPage{Q: strings.TrimSpace(c.Query("q")), Ref: strings.TrimSpace(c.Query("ref"))}
	page := web.Page{Title: "Order lookup", Nav: "orders", Body: &b}
	if b.Ref == "" && b.Q != "" {
		ref, choices, err := s.orderSearch(c, b.Q)
		if err != nil {
			st, msg := s.failure(c, err)
			page.Error = msg
			return s.render(c, st, "order", page)
		}
		b.Ref, b.Choices = ref, choices
	}
	if b.Ref == "" {
		return s.render(c, http.StatusOK, "order", page)
	}
	if s.p.Ops != nil {
		b.Requests, _ = s.orderRequests(c, b.Ref, "", "", 200)
	}
	o, events, conflicts, err := s.order(c, b.Ref)
	if err != nil {
		status, msg := s.failure(c, err)
		if status == http.StatusNotFound {
			msg += ". Check the ref: it is the storefront's own order id (for example 1001), exactly as the storefront shows it; or search by the customer's email or the payment's id."
		}
		page.Error = msg
		return s.render(c, status, "order", page)
	}
	if s.p.Ops != nil {
		pays, err := s.ops().Payments(c.UserContext(), o.Ref)
		if err == nil {
			for _, p := range pays {
				b.Payments = append(b.Payments, paymentView{p, moneyLine(p.Amount, p.Currency)})
			}
			b.Holdings, err = s.ops().Holdings(c.UserContext(), o.Ref)
		}
		if err != nil {
			_, page.Error = s.failure(c, err)
		}
	}
	b.Found, b.O, b.Status, b.Events, b.Conflicts = true, o, o.DisplayStatus(), events, conflicts
	b.DeliveriesOn = s.p.Downstream != nil && len(s.p.Downstream.Destinations) > 0
	if b.Deliveries, err = s.orderDeliveries(c.UserContext(), o.Ref); err != nil {
		_, page.Error = s.failure(c, err)
	}
	b.Total = moneyLine(o.Total, o.Currency)
	for _, l := range o.Lines {
		b.Lines = append(b.Lines, orderLine{l.SKU, l.Quantity, domain.FormatMinorUnits(l.UnitPrice, o.Currency) + " " + o.Currency})
	}
	page.Title = "Order " + o.Ref
	return s.render(c, http.StatusOK, "order", page)
}

type inventoryPage struct {
	SKU    string
	Found  bool
	Stock  domain.Stock
	OnHand string // the form's value
	// Without a SKU: the list, by filter.
	Tracked, Below, Backordered string
	List                        []domain.StockRow
	Next                        string
	Ledger                      []domain.LedgerLine
	Reservations                []domain.Reservation
	// Published is what each stock channel was last told of the SKU.
	Published []domain.PublishedStock
}

// inventory renders the inventory page for sku, with an error or a notice.
func (s *Server) inventory(c *fiber.Ctx, status int, sku, onHand, errMsg, notice string) error {
	b := inventoryPage{SKU: sku, OnHand: onHand}
	page := web.Page{Title: "Inventory", Nav: "inventory", Error: errMsg, Notice: notice, Body: &b}
	if sku == "" {
		b.Tracked, b.Below, b.Backordered = c.Query("tracked"), c.Query("below"), c.Query("backordered")
		f, err := stockFilter(c)
		if err == nil {
			f.Limit = pageSize
			b.List, err = s.ops().StockList(c.UserContext(), f)
		}
		if err != nil {
			status, page.Error = s.failure(c, err)
		} else if len(b.List) == pageSize {
			b.Next = b.List[len(b.List)-1].SKU
		}
		return s.render(c, status, "inventory", page)
	}
	if s.p.Ops != nil {
		b.Ledger, _ = s.ops().Ledger(c.UserContext(), sku, 100)
		b.Reservations, _ = s.ops().ActiveReservations(c.UserContext(), sku, 100)
	}
	b.Published, _ = s.publishedOf(c.UserContext(), sku)
	st, err := s.p.Inventory.Stock(c.UserContext(), sku)
	switch {
	case domain.ErrorCode(err) == domain.ENOTFOUND:
		if page.Error == "" {
			status = http.StatusNotFound
			page.Error = fmt.Sprintf("No stock recorded for SKU %q. Check the spelling, or set its on-hand level below to start tracking it.", sku)
		}
	case err != nil:
		status, page.Error = s.failure(c, err)
	default:
		b.Found, b.Stock = true, st
		if b.OnHand == "" {
			b.OnHand = strconv.FormatInt(st.OnHand, 10)
		}
	}
	return s.render(c, status, "inventory", page)
}

func (s *Server) opsInventory(c *fiber.Ctx) error {
	notice := ""
	if c.Query("saved") != "" {
		notice = "On hand saved."
	}
	return s.inventory(c, http.StatusOK, strings.TrimSpace(c.Query("sku")), "", "", notice)
}

func (s *Server) opsSetStock(c *fiber.Ctx) error {
	sku, raw := strings.TrimSpace(formValue(c, "sku")), strings.TrimSpace(formValue(c, "on_hand"))
	if sku == "" {
		return s.inventory(c, http.StatusBadRequest, "", raw, "Enter a SKU first, look it up, then set its on-hand level.", "")
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		err = domain.Errorf(domain.EINVALID, "on_hand: %q is not a whole number", raw)
	} else {
		_, err = s.setOnHand(c.UserContext(), sku, setStockRequest{OnHand: &n})
	}
	if err != nil {
		status, msg := s.failure(c, err)
		if status == http.StatusBadRequest {
			msg = fmt.Sprintf("On hand must be a whole number of units, 0 or more; %q is not. Enter the count on the shelf and press Set.", raw)
		}
		return s.inventory(c, status, sku, raw, "Not saved: "+msg, "")
	}
	s.audit(c, s.actor(c), "set_level", "sku "+sku, "on_hand "+raw)
	return c.Redirect("/ops/inventory?saved=1&sku="+url.QueryEscape(sku), http.StatusSeeOther)
}

// signInError says why a sign-in failed and what to paste instead.
func signInError(name string) string {
	if name != "" {
		return "That name and password do not match an operator. Check both (names are case-sensitive), or leave the name empty and paste the API token."
	}
	return "That is not the API token. Paste the value of TRADEWIND_API_TOKEN from the server's environment and sign in again."
}
