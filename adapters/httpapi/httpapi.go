// Package httpapi is Tradewind's HTTP surface on Fiber: the webhook ingress, the
// health and metrics endpoints, the JSON API under /api/v1 and the ops dashboard
// under /ops/.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	tprom "github.com/tradewind/tradewind/adapters/prometheus"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/ratelog"
)

// Params are the server's dependencies.
type Params struct {
	Sources   domain.SourceLookup
	Providers domain.ProviderRegistry
	Inbox     domain.Inbox
	// Transmissions makes transmission ids single-use for providers that need it
	// (domain.SingleUse: PayPal); nil checks nothing.
	Transmissions domain.Transmissions
	// Queue hands stored webhooks to the workers. A failure is logged, never
	// answered: the entry is committed and the sweeper queues it later.
	Queue     domain.WebhookQueue
	Orders    domain.OrderReader
	Conflicts domain.Conflicts
	Inventory domain.Inventory
	// Webhooks lets ops list, read and replay stored webhooks.
	Webhooks domain.InboxBrowser
	// Reservations is the flash-sale reservation API.
	Reservations domain.Reservations
	// Ops reads the lists of the API and the dashboard (orders, inventory, the
	// requests naming an order, rejections, charts) and records who did what.
	Ops domain.OpsReader
	// Version is the build's version, shown by /healthz and the dashboard.
	Version string
	// Operators are the people who may sign in to the dashboard by name.
	Operators []Operator
	// QueueLatency reports the age of the oldest waiting task per queue, for the
	// overview; nil shows none.
	QueueLatency func(ctx context.Context) (map[string]time.Duration, error)
	// Queues is the queue UI (asynqmon) served at /ops/queues/ behind the sign-in; nil shows none.
	Queues  http.Handler
	Metrics *tprom.Metrics
	// ReadyChecks are what /readyz checks, by name ("postgres", "redis"). A
	// failure is answered "unreachable" and logged: its text can name internal
	// addresses, which /readyz must not show.
	ReadyChecks map[string]func(ctx context.Context) error
	APIToken    string
	// MetricsTokenRequired puts /metrics behind the API token too.
	MetricsTokenRequired bool
	// Sessions keeps the dashboard's sign-ins, so signing out ends a session on
	// every replica.
	Sessions domain.Sessions
	// TrustedProxies are the load balancers whose ClientIPHeader (default
	// X-Forwarded-For) names the client; from anyone else the header is ignored.
	TrustedProxies []netip.Prefix
	ClientIPHeader string
	MaxBody        int // bytes; larger webhook bodies are answered 413
	// MaxInflightBody bounds the request body bytes held at once across all
	// connections (0: DefaultMaxInflightBody); past it, 503 with Retry-After.
	MaxInflightBody int64
	// Backlog reports the tasks waiting for a worker (jobs.Backlog); the ingress
	// reads it at most once a second. ShedQueueDepth is the backlog above which
	// webhooks are answered 503 (load shedding); 0 or a nil Backlog is off.
	Backlog        domain.BacklogReader
	ShedQueueDepth int
	// Reconciliations are the reconciliation reports; StartReconciliation stores
	// a running one and queues its run. Returns EINVALID for a bad request.
	Reconciliations     domain.ReconciliationStore
	StartReconciliation func(ctx context.Context, req domain.ReconciliationRequest) (domain.Reconciliation, error)
	Logger              *slog.Logger
	Now                 func() time.Time

	// Downstream serves the destinations and deliveries endpoints; nil: none.
	Downstream *Downstream
}

// Server holds the Fiber app and its handlers.
type Server struct {
	p   Params
	app *fiber.App
	// rejectLimit bounds how many rejections per second are written to
	// PostgreSQL, so a flood of bad requests cannot turn into a flood of writes.
	rejectLimit *rate.Limiter
	// guesses bounds wrong API tokens (bearer or dashboard sign-in) per client
	// address (auth.go), so the token cannot be guessed at speed.
	guesses *guessLimiter
	clients clientAddrs
	limits  sourceLimits // per-source rate limits (ratelimit.go)
	shed    shedder      // cached queue depth for load shedding (shed.go)
	sess    sessions     // the dashboard's session cookies (session.go)
	hourly  hourlyCache  // the overview's counts per hour, briefly reused (charts.go)
	bodies  *bodyBudget  // request body bytes held at once (body.go)
	// warn writes warnings that an outage repeats on every request (a failed
	// enqueue while Redis is down) at most once per kind every 10 seconds.
	warn *ratelog.Logger
}

// warnEvery is how often one kind of repeated warning is written at most.
const warnEvery = 10 * time.Second

// statusByCode is the one table from error code to HTTP status.
var statusByCode = map[string]int{
	domain.EINVALID:      http.StatusBadRequest,
	domain.EUNAUTHORIZED: http.StatusUnauthorized,
	domain.ENOTFOUND:     http.StatusNotFound,
	domain.ECONFLICT:     http.StatusConflict,
	domain.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	domain.ERATELIMITED:  http.StatusTooManyRequests,
	domain.EUNAVAILABLE:  http.StatusServiceUnavailable,
	domain.EINTERNAL:     http.StatusInternalServerError,
}

// codeByStatus maps Fiber's own errors (unknown route, body over the server limit) back to codes.
var codeByStatus = map[int]string{
	http.StatusBadRequest:            domain.EINVALID,
	http.StatusUnauthorized:          domain.EUNAUTHORIZED,
	http.StatusNotFound:              domain.ENOTFOUND,
	http.StatusMethodNotAllowed:      domain.EINVALID,
	http.StatusConflict:              domain.ECONFLICT,
	http.StatusRequestEntityTooLarge: domain.ETOOLARGE,
	http.StatusTooManyRequests:       domain.ERATELIMITED,
	http.StatusServiceUnavailable:    domain.EUNAVAILABLE,
}

// New builds the server.
func New(p Params) *Server {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.ClientIPHeader == "" {
		p.ClientIPHeader = fiber.HeaderXForwardedFor
	}
	s := &Server{p: p, rejectLimit: rate.NewLimiter(100, 200), sess: sessions{key: []byte(p.APIToken), now: p.Now},
		guesses: newGuessLimiter(guessEvery, guessBurst, guessKeys), clients: clientAddrs{p.TrustedProxies, p.ClientIPHeader},
		limits: sourceLimits{ips: newKeyedLimiters(maxTrackedAddresses)}, warn: ratelog.New(p.Logger, warnEvery, p.Now)}
	s.app = fiber.New(fiber.Config{
		AppName:               "tradewind",
		DisableStartupMessage: true,
		// The server-wide limit is above the webhook limit so that the ingress sees
		// oversized bodies itself, answers 413 and records the rejection.
		BodyLimit:    2*p.MaxBody + 64<<10,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  120 * time.Second,
		ErrorHandler: s.handleError,

		// Handlers read request bodies themselves, within a budget of bytes held at
		// once (body.go); fasthttp reads only the headers and the first 8 KB.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	})
	s.initBodies()
	s.app.Use(s.bufferBody)
	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok", "version": p.Version}) })
	s.app.Get("/readyz", s.ready)
	metrics := adaptor.HTTPHandler(promhttp.HandlerFor(p.Metrics.Registry, promhttp.HandlerOpts{}))
	if p.MetricsTokenRequired {
		s.app.Get("/metrics", s.requireToken, metrics)
	} else {
		s.app.Get("/metrics", metrics)
	}
	s.app.Post("/webhooks/:source", s.ingest)

	api := s.app.Group("/api/v1", s.requireToken, s.checkInput)
	api.Get("/orders", s.listOrders)
	api.Get("/orders/:ref", s.getOrder)
	api.Get("/conflicts", s.listConflicts)
	api.Post("/conflicts/:id/resolve", s.resolveConflict)
	api.Get("/inventory", s.listInventory)
	api.Get("/inventory/:sku", s.getStock)
	api.Put("/inventory/:sku", s.setStock)
	api.Get("/webhooks", s.listWebhooks)
	api.Get("/webhooks/:id", s.getWebhook)
	api.Post("/webhooks/:id/replay", s.replayWebhook)
	api.Post("/reservations", s.createReservation)
	api.Get("/destinations", s.listDestinations)
	api.Post("/destinations/:id/enable", s.enableDestination)
	api.Get("/destinations/:id/published", s.publishedStock)
	api.Get("/deliveries", s.listDeliveries)
	api.Post("/deliveries/retry", s.retryDeliveries)
	api.Get("/deliveries/:id", s.getDelivery)
	api.Post("/deliveries/:id/retry", s.retryDelivery)
	api.Delete("/reservations/:id", s.deleteReservation)
	api.Get("/reconciliations", s.listReconciliations)
	api.Post("/reconciliations", s.createReconciliation)
	api.Get("/reconciliations/:id", s.getReconciliation)

	s.mountDashboard()
	return s
}

// App returns the Fiber app, for Listen and for tests.
func (s *Server) App() *fiber.App { return s.app }

// Listen serves on addr until Shutdown.
func (s *Server) Listen(addr string) error { return s.app.Listen(addr) }

// Shutdown stops accepting connections and waits for in-flight requests.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

// handleError answers every error as {"error": {"code", "message"}}. Internal
// errors are logged in full once and answered with a generic message.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	code, status, msg := domain.ErrorReason(err), statusByCode[domain.ErrorCode(err)], domain.ErrorMessage(err)
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code, status, msg = codeByStatus[fe.Code], fe.Code, fe.Message
		if code == "" {
			code = domain.EINVALID
		}
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.p.Logger.Error("request failed", slog.String("method", c.Method()), slog.String("path", c.Path()),
			slog.String("error", err.Error()))
	}
	if (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		c.Set(fiber.HeaderRetryAfter, "5")
	}
	body := fiber.Map{"code": code, "message": msg}
	for k, v := range domain.ErrorFields(err) {
		body[k] = v
	}
	return c.Status(status).JSON(fiber.Map{"error": body})
}

// ready runs every readiness check at once, each within 2 seconds, and answers
// {"status":"ready"|"unavailable","checks":{"postgres":"ok"|"unreachable",…}}:
// 200 when all pass, 503 (with the error shape too) when one fails. The cause
// is logged, not answered: it can name the database's address.
func (s *Server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.p.ReadyChecks))
	for name, check := range s.p.ReadyChecks {
		go func() { results <- result{name, check(ctx)} }()
	}
	checks, down := make(map[string]string, len(s.p.ReadyChecks)), []string{}
	for range s.p.ReadyChecks {
		r := <-results
		if r.err == nil {
			checks[r.name] = "ok"
			continue
		}
		checks[r.name] = "unreachable"
		down = append(down, r.name)
		s.warn.Warn(ctx, "readyz:"+r.name, "readiness check failed",
			slog.String("check", r.name), slog.String("error", r.err.Error()))
	}
	if len(down) == 0 {
		return c.JSON(fiber.Map{"status": "ready", "checks": checks})
	}
	slices.Sort(down)
	c.Set(fiber.HeaderRetryAfter, "5")
	return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{
		"status": "unavailable", "checks": checks,
		"error": fiber.Map{"code": domain.EUNAVAILABLE, "message": "not ready: " + strings.Join(down, ", ") + " unreachable"},
	})
}
