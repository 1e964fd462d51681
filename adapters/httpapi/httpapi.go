// Package httpapi is Tradewind's HTTP surface on Fiber: the webhook ingress, the
// health and metrics endpoints, the JSON API under /api/v1 and the ops dashboard
// under /ops/.
package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	tprom "github.com/tradewind/tradewind/adapters/prometheus"
	"github.com/tradewind/tradewind/domain"
)

// Params are the server's dependencies.
type Params struct {
	Sources   func(id string) (domain.Source, bool)
	Providers func(kind string) (domain.Provider, bool)
	Inbox     domain.Inbox
	// Enqueue queues an inbox entry for the workers. A failure is logged, never
	// answered: the entry is committed and the sweeper queues it later.
	Enqueue   func(ctx context.Context, inboxID int64, src domain.Source) error
	Orders    domain.OrderReader
	Conflicts domain.Conflicts
	Inventory domain.Inventory
	// Webhooks lets ops list, read and replay stored webhooks.
	Webhooks domain.InboxBrowser
	// Reservations is the flash-sale reservation API.
	Reservations domain.Reservations
	Metrics      *tprom.Metrics
	// Ready reports whether PostgreSQL and Redis answer.
	Ready    func(ctx context.Context) error
	APIToken string
	MaxBody  int // bytes; larger webhook bodies are answered 413
	// MaxInflightBody bounds the request body bytes held at once across all
	// connections (0: DefaultMaxInflightBody); past it, 503 with Retry-After.
	MaxInflightBody int64
	// QueueDepth reports the tasks waiting (pending or retrying) in the queues; the
	// ingress reads it at most once a second. ShedQueueDepth is the depth above
	// which webhooks are answered 503 (load shedding); 0 or a nil QueueDepth is off.
	QueueDepth     func(ctx context.Context) (int, error)
	ShedQueueDepth int
	Logger         *slog.Logger
	Now            func() time.Time
}

// Server holds the Fiber app and its handlers.
type Server struct {
	p   Params
	app *fiber.App
	// rejectLimit bounds how many rejections per second are written to
	// PostgreSQL, so a flood of bad requests cannot turn into a flood of writes.
	rejectLimit *rate.Limiter
	// failedLogins bounds wrong dashboard sign-ins (all clients together), so the
	// API token cannot be guessed at speed.
	failedLogins *rate.Limiter
	limits       sourceLimits // per-source rate limits (ratelimit.go)
	shed         shedder      // cached queue depth for load shedding (shed.go)
	bodies       *bodyBudget  // request body bytes held at once (body.go)
	sess         sessions     // the dashboard's session cookies (session.go)
}

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
	s := &Server{p: p, rejectLimit: rate.NewLimiter(100, 200), failedLogins: rate.NewLimiter(1, 10), sess: sessions{key: []byte(p.APIToken), now: p.Now}}
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
	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	s.app.Get("/readyz", s.ready)
	s.app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(p.Metrics.Registry, promhttp.HandlerOpts{})))
	s.app.Post("/webhooks/:source", s.ingest)

	api := s.app.Group("/api/v1", s.requireToken)
	api.Get("/orders/:ref", s.getOrder)
	api.Get("/conflicts", s.listConflicts)
	api.Post("/conflicts/:id/resolve", s.resolveConflict)
	api.Get("/inventory/:sku", s.getStock)
	api.Put("/inventory/:sku", s.setStock)
	api.Get("/webhooks", s.listWebhooks)
	api.Get("/webhooks/:id", s.getWebhook)
	api.Post("/webhooks/:id/replay", s.replayWebhook)
	api.Post("/reservations", s.createReservation)
	api.Delete("/reservations/:id", s.deleteReservation)

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

func (s *Server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.p.Ready(ctx); err != nil {
		return domain.WrapError(err, domain.EUNAVAILABLE, "not ready: "+err.Error())
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) requireToken(c *fiber.Ctx) error {
	auth := c.Get(fiber.HeaderAuthorization)
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.p.APIToken)) != 1 {
		return domain.Errorf(domain.EUNAUTHORIZED, "send the API token as 'Authorization: Bearer <token>' (the value of TRADEWIND_API_TOKEN)")
	}
	return c.Next()
}
