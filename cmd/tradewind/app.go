package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/tradewind/tradewind/adapters/httpapi"
	"github.com/tradewind/tradewind/adapters/postgres"
	tprom "github.com/tradewind/tradewind/adapters/prometheus"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/lifecycle"
	"github.com/tradewind/tradewind/internal/ratelog"
	"github.com/tradewind/tradewind/internal/sourcesfile"
	"github.com/tradewind/tradewind/jobs"
	"github.com/tradewind/tradewind/reconcile"
)

// Roles say which components a process runs.
type Roles struct {
	Serve    bool // ingress, API, dashboard
	Work     bool // Asynq worker
	Schedule bool // cron: the inbox sweeper
	Migrate  bool // apply pending migrations before starting
}

// Main is the wired program. Run starts the components of the given roles and
// returns; Close stops them gracefully. End-to-end tests drive this same wiring.
type Main struct {
	Config  Config
	Sources domain.Sources
	Logger  *slog.Logger
	Now     func() time.Time

	// Destinations are the downstream destinations (the sources file's destinations section).
	Destinations []domain.Destination

	DB        *sqlx.DB
	Metrics   *tprom.Metrics
	redisOpt  asynq.RedisConnOpt
	redis     redis.UniversalClient
	client    *asynq.Client
	inspector *asynq.Inspector
	queue     *jobs.WebhookQueue // enqueues behind a circuit breaker; the backlog
	providers *registry.Registry // the process's providers (PayPal's caches)

	server    *httpapi.Server
	reserver  *postgres.Reserver
	batcher   *postgres.InboxBatcher // the ingress's inbox: group commit
	listener  *httpapi.Listener
	serving   *httpapi.Serving // the HTTP server on the listener
	worker    *asynq.Server
	scheduler *asynq.Scheduler
	// running are the long-lived components Run started, in order; Close shuts
	// each down once, in reverse order.
	running lifecycle.Group

	downstream downstream     // deliveries: dispatcher and sweeper
	applier    domain.Applier // the ledger, nudging the delivery dispatcher; set by the worker role

	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a Main for a validated configuration and sources.
func NewMain(cfg Config, sources domain.Sources, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Sources: sources, Logger: logger, Now: time.Now, Metrics: tprom.New()}
}

// Addr is the address the HTTP server listens on (useful with port 0).
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// Run connects to PostgreSQL and Redis and starts the components of roles.
func (m *Main) Run(ctx context.Context, roles Roles) error {
	if _, err := jobs.RetentionPolicy(m.retention(), m.Sources); err != nil {
		return fmt.Errorf("config: %s", domain.ErrorMessage(err))
	}
	db, err := postgres.Open(ctx, m.Config.DatabaseURL, m.Config.DBMaxConns)
	if domain.ErrorCode(err) == domain.EUNAVAILABLE {
		return fmt.Errorf("TRADEWIND_DATABASE_URL: PostgreSQL at %s does not answer; start it (make run starts a local one) or fix the URL: %v",
			urlHost(m.Config.DatabaseURL), errors.Unwrap(err))
	}
	if err != nil {
		return fmt.Errorf("TRADEWIND_DATABASE_URL: %w", err)
	}
	m.DB = db
	if err := postgres.CheckSchema(ctx, m.DB, roles.Migrate); err != nil {
		return err
	}
	if m.redisOpt, err = redisOptions(m.Config); err != nil {
		return err
	}
	m.redis = m.redisOpt.MakeRedisClient().(redis.UniversalClient)
	if err := m.redis.Ping(ctx).Err(); err != nil {
		// Not fatal: webhooks are still stored and answered, and queued once Redis is back.
		m.Logger.Warn("Redis does not answer (TRADEWIND_REDIS_URL); webhooks are stored and will be queued when it returns",
			slog.String("redis", urlHost(m.Config.RedisURL)), slog.String("error", err.Error()))
	}
	m.client = asynq.NewClient(m.redisOpt)
	m.inspector = asynq.NewInspector(m.redisOpt)
	m.queue = jobs.NewWebhookQueue(jobs.WebhookQueueParams{Client: m.client, Tasks: m.inspector})
	m.providers = registry.New()
	m.Metrics.RegisterQueueDepth(m.queue.BacklogByQueue)
	m.Metrics.RegisterOps(m.opsReads())

	inbox := &postgres.Inbox{DB: m.DB}
	if roles.Serve || roles.Work {
		// One Reserver for the API and the expiry task: Close shuts it down once.
		m.reserver = postgres.NewReserver(postgres.ReserverParams{DB: m.DB, Now: m.Now, Logger: m.Logger, Destinations: m.Destinations})
		if err := m.start(ctx, "reserver", m.reserver); err != nil {
			return err
		}
	}
	if roles.Work {
		if err := m.startWorker(ctx, inbox); err != nil {
			return err
		}
	}
	if roles.Schedule {
		if err := m.startScheduler(ctx); err != nil {
			return err
		}
	}
	if roles.Serve {
		if err := m.startServer(ctx, inbox); err != nil {
			return err
		}
	}
	return nil
}

// start starts c and, once it runs, leaves it to Close.
func (m *Main) start(ctx context.Context, name string, c lifecycle.Component) error {
	return m.running.Start(ctx, name, c)
}

// readyChecks are what /readyz checks: PostgreSQL and Redis answer.
func (m *Main) readyChecks() map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"postgres": func(ctx context.Context) error { return postgres.Ping(ctx, m.DB) },
		"redis":    func(ctx context.Context) error { return m.redis.Ping(ctx).Err() },
	}
}

// ServeDone is closed when the HTTP server stops serving (after Close, or on a
// failure it cannot pass); nil when this Main does not serve.
func (m *Main) ServeDone() <-chan struct{} {
	if m.serving == nil {
		return nil
	}
	return m.serving.Done()
}

// ServeErr is why the HTTP server stopped: nil after Close. Read it after ServeDone.
func (m *Main) ServeErr() error {
	if m.serving == nil {
		return nil
	}
	return m.serving.Err()
}

func (m *Main) startServer(ctx context.Context, inbox *postgres.Inbox) (err error) {
	// Bind first: an address in use fails before anything is started.
	ln, err := httpapi.Listen(m.Config.Listen, "TRADEWIND_LISTEN")
	if err != nil {
		return err
	}
	maxConns := httpapi.ConnectionCap(m.Config.MaxConnections, m.Config.DBMaxConns)
	m.listener = httpapi.NewListener(ln, httpapi.ListenerParams{
		MaxConns: maxConns, MaxConnsPerIP: m.Config.MaxConnectionsPerIP,
		Log: ratelog.New(m.Logger, 10*time.Second, nil),
	})
	defer func() {
		if err != nil { // not serving: the HTTP server's Shutdown will not close it
			err = errors.Join(err, m.listener.Close())
		}
	}()
	m.batcher = postgres.NewInboxBatcher(postgres.InboxBatcherParams{Inbox: inbox, Queue: m.queue, Logger: m.Logger, Now: m.Now})
	if err := m.start(ctx, "inbox batcher", m.batcher); err != nil { // shut down after the server: its requests are answered first
		return err
	}
	trusted, err := httpapi.ParseTrustedProxies(m.Config.TrustedProxies)
	if err != nil {
		return fmt.Errorf("TRADEWIND_TRUSTED_PROXIES: %w", err)
	}
	operators, err := sourcesfile.LoadOperators(m.Config.SourcesFile, osEnv)
	if err != nil {
		return err
	}
	m.server = httpapi.New(httpapi.Params{
		Sources: m.Sources, Providers: m.providers, Inbox: m.batcher, Queue: m.queue,
		Transmissions: &postgres.Transmissions{DB: m.DB, Now: m.Now},
		Backlog:       m.queue, ShedQueueDepth: m.Config.ShedQueueDepth,
		Orders: &postgres.Orders{DB: m.DB}, Conflicts: &postgres.Conflicts{DB: m.DB}, Reservations: m.reserver, Webhooks: inbox,
		Inventory: &postgres.Inventory{DB: m.DB, OversellPolicy: m.Config.OversellPolicy, Grace: m.Config.ConflictGrace, Now: m.Now, Destinations: m.Destinations},
		Metrics:   m.Metrics, ReadyChecks: m.readyChecks(), MetricsTokenRequired: m.Config.MetricsTokenRequired,
		APIToken: m.Config.APIToken, MaxBody: m.Config.MaxBodyBytes, Logger: m.Logger, Now: m.Now,
		Sessions: &postgres.Sessions{DB: m.DB}, TrustedProxies: trusted, ClientIPHeader: m.Config.ClientIPHeader,
		Ops: &postgres.Ops{DB: m.DB}, Version: Version(), Operators: operators, QueueLatency: m.queueLatencies,
		Queues:          asynqmon.New(asynqmon.Options{RootPath: "/ops/queues", RedisConnOpt: m.redisOpt}),
		MaxInflightBody: int64(m.Config.MaxInflightBodyBytes),
		Reconciliations: &postgres.Reconciliations{DB: m.DB, Now: m.Now}, StartReconciliation: m.startReconciliation(m.reconciler(inbox, nil)).Start,
		Downstream: m.downstreamAPI(),
	})
	m.serving = &httpapi.Serving{Server: m.server, Listener: m.listener, ShutdownTimeout: m.Config.ShutdownTimeout}
	if err := m.start(ctx, "HTTP server", m.serving); err != nil {
		return err
	}
	m.Logger.Info("serving", slog.String("addr", ln.Addr().String()), slog.Int("sources", len(m.Sources)),
		slog.Int("max_connections", maxConns), slog.Int("max_connections_per_ip", m.Config.MaxConnectionsPerIP))
	return nil
}

func (m *Main) startWorker(ctx context.Context, inbox *postgres.Inbox) error {
	m.worker = jobs.NewServer(m.redisOpt, jobs.ServerParams{Concurrency: m.Config.WorkerConcurrency,
		ShutdownTimeout: m.Config.ShutdownTimeout, Logger: m.Logger})
	mux := asynq.NewServeMux()
	ledger := m.ledger()
	ledger.OnBatchFallback = func(entries int, next string, err error) {
		m.Logger.Debug("apply batch failed as a whole", slog.Int("entries", entries), slog.String("next", next), slog.String("error", err.Error()))
	}
	batcher := &jobs.ApplyBatcher{Applier: ledger}
	m.applier = m.startDownstream(mux, batcher)
	mux.Handle(jobs.TypeProcessWebhook, m.processWebhook(inbox))
	var batchApplier domain.BatchApplier = batcher
	if k, ok := m.applier.(jobs.KickApplier); ok {
		batchApplier = jobs.KickBatchApplier{BatchApplier: batcher, Kick: k.Kick}
	}
	mux.Handle(jobs.TypeProcessBatch, &jobs.ProcessBatch{Single: m.processWebhook(inbox), Attempts: inbox, Applier: batchApplier,
		Queue: m.client, Tasks: m.inspector})
	mux.Handle(jobs.TypeReconcile, &jobs.Reconcile{Reconciler: m.reconciler(inbox, nil), Logger: m.Logger})
	loc, at, err := jobs.ReconcileAt(m.Config.ReconcileAt, m.Config.ReconcileTZ)
	if err != nil {
		return err
	}
	mux.Handle(jobs.TypeReconcileNightly, &jobs.ReconcileNightly{Queue: m.client, At: at.Format("15:04"), Location: loc, Now: m.Now, Logger: m.Logger})
	mux.Handle(jobs.TypeExpireReservations, m.periodic(jobs.TypeExpireReservations, &jobs.ExpireReservations{
		Reservations: m.reserver, Now: m.Now, Logger: m.Logger,
	}))
	mux.Handle(jobs.TypeMatureConflicts, m.periodic(jobs.TypeMatureConflicts, &jobs.MatureConflicts{
		Conflicts: &postgres.Conflicts{DB: m.DB}, Grace: m.Config.ConflictGrace, Now: m.Now, Logger: m.Logger,
	}))
	mux.Handle(jobs.TypeSweepInbox, m.periodic(jobs.TypeSweepInbox, &jobs.SweepInbox{
		Inbox: inbox, Queue: m.client, Tasks: m.inspector, Batches: m.inspector, Grace: m.Config.SweepGrace, Now: m.Now, Logger: m.Logger,
	}))
	retention, _ := jobs.RetentionPolicy(m.retention(), m.Sources) // checked in Run
	mux.Handle(jobs.TypePrune, m.periodicEvery(time.Hour, jobs.TypePrune, &jobs.Prune{
		Pruner: &postgres.Retention{DB: m.DB}, Retention: retention, Default: m.retention(), Now: m.Now, Logger: m.Logger,
	}))
	if err := m.start(ctx, "worker", &jobs.Worker{Server: m.worker, Handler: mux}); err != nil {
		return err
	}
	m.Logger.Info("worker started", slog.Int("concurrency", m.Config.WorkerConcurrency))
	return nil
}

// processWebhook is the worker's handler of inbox entries; the reconciliation
// applies what it repairs through the same one.
func (m *Main) processWebhook(inbox *postgres.Inbox) *jobs.ProcessWebhook {
	applier := m.applier
	if applier == nil { // no worker in this process (tradewind reconcile): the outbox rows wait for one
		applier = m.ledger()
	}
	return &jobs.ProcessWebhook{
		Inbox: &jobs.AttemptBatcher{AttemptInbox: inbox}, Applier: applier, Sources: m.Sources, Providers: m.providers, Logger: m.Logger,
		OnApplied:     func(source, outcome string) { m.Metrics.Applied.WithLabelValues(source, outcome).Inc() },
		Confirmations: &jobs.ConfirmLimiter{Now: m.Now},
	}
}

// ledger applies events in PostgreSQL, writing the deliveries its decisions make
// for the destinations in the same transaction.
func (m *Main) ledger() *postgres.Ledger {
	return &postgres.Ledger{DB: m.DB, OversellPolicy: m.Config.OversellPolicy, Grace: m.Config.ConflictGrace, Now: m.Now, Destinations: m.Destinations}
}

// reconciler is the nightly reconciliation, applying repairs through the
// worker's handler; progress may be nil.
func (m *Main) reconciler(inbox *postgres.Inbox, progress func(source string, compared int)) *reconcile.Reconciler {
	apply := m.processWebhook(inbox)
	return reconcile.New(reconcile.Params{
		Store:   &postgres.ReconcileStore{DB: m.DB, Now: m.Now},
		Reports: &postgres.Reconciliations{DB: m.DB, Now: m.Now},
		Sources: func() []domain.Source {
			out := make([]domain.Source, 0, len(m.Sources))
			for _, s := range m.Sources {
				out = append(out, s)
			}
			return out
		},
		Provider: m.providers.Provider,
		Apply: func(ctx context.Context, id int64) error {
			return apply.ProcessTask(ctx, jobs.NewProcessWebhookTask(id, jobs.QueueCritical))
		},
		StockChannel: domain.StockChannels(m.sender()),
		StockDestinations: func() []domain.Destination {
			return domain.DestinationsOfKind(m.Destinations, domain.DestinationShopifyInventory)
		}, Published: &postgres.StorefrontStock{DB: m.DB, Now: m.Now},
		DestinationStates: &postgres.Destinations{DB: m.DB, Now: m.Now},
		Kick:              m.kickDeliveries,
		Progress:          progress, Now: m.Now, Logger: m.Logger,
	})
}

// startReconciliation stores a running report and queues its run.
func (m *Main) startReconciliation(rec *reconcile.Reconciler) *jobs.StartReconciliation {
	return &jobs.StartReconciliation{Reconciler: rec, Queue: m.client, Reports: &postgres.Reconciliations{DB: m.DB}, Now: m.Now, Logger: m.Logger}
}

// retention is TRADEWIND_RETENTION; a Config built in code without it gets the default.
func (m *Main) retention() time.Duration {
	if m.Config.Retention == 0 {
		return 30 * 24 * time.Hour
	}
	return m.Config.Retention
}

// periodic wraps the handler of a scheduled task: once per window whatever the
// number of schedule replicas, and never retried or archived (see jobs.Periodic).
func (m *Main) periodic(typ string, h asynq.Handler) asynq.Handler {
	return m.periodicEvery(m.Config.SweepInterval, typ, h)
}

func (m *Main) periodicEvery(interval time.Duration, typ string, h asynq.Handler) asynq.Handler {
	return &jobs.Periodic{Type: typ, Interval: interval, Redis: m.redis, Handler: h, Now: m.Now, Logger: m.Logger}
}

func (m *Main) startScheduler(ctx context.Context) error {
	loc, at, err := jobs.ReconcileAt(m.Config.ReconcileAt, m.Config.ReconcileTZ)
	if err != nil {
		return err
	}
	m.scheduler = asynq.NewScheduler(m.redisOpt, &asynq.SchedulerOpts{
		Logger: jobs.Logger{L: m.Logger}, LogLevel: asynq.WarnLevel, Location: loc,
	})
	if err := jobs.RegisterSchedule(m.scheduler, m.Config.SweepInterval, at, len(m.Destinations) > 0); err != nil {
		return err
	}
	if err := m.start(ctx, "scheduler", &jobs.Scheduler{Scheduler: m.scheduler}); err != nil {
		return err
	}
	m.Logger.Info("scheduler started", slog.String("sweep_interval", m.Config.SweepInterval.String()))
	return nil
}

// Close stops accepting requests, lets in-flight requests and tasks finish, and
// releases connections. It is safe to call after a partial Run, after the HTTP
// server failed, and more than once (later calls return the first one's result).
// It waits for the HTTP server no longer than ctx allows.
func (m *Main) Close(ctx context.Context) error {
	m.closeOnce.Do(func() { m.closeErr = m.close(ctx) })
	return m.closeErr
}

func (m *Main) close(ctx context.Context) error {
	// In reverse order of start: the HTTP server first (in-flight requests are
	// answered), then the inbox batcher (its last commit), the scheduler, the
	// worker (active tasks), the reserver (both the API and the worker reserve
	// through it); then the connections.
	errs := []error{m.running.Shutdown(ctx)}
	if m.downstream.cancel != nil {
		m.downstream.cancel()
	}
	if m.client != nil {
		errs = append(errs, m.client.Close(), m.inspector.Close())
	}
	if m.redis != nil {
		errs = append(errs, m.redis.Close())
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	return errors.Join(errs...)
}

// urlHost is the host:port of a URL, for messages that must not echo credentials.
func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Host
}
