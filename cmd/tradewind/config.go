package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/adapters/httpapi"
	"github.com/tradewind/tradewind/internal/envconfig"
	"github.com/tradewind/tradewind/internal/localdeps"
	"github.com/tradewind/tradewind/jobs"
)

// Config is the process configuration, read from TRADEWIND_* environment variables.
// Each field's tags are internal/envconfig's; the README lists them all.
type Config struct {
	DatabaseURL       string        `env:"TRADEWIND_DATABASE_URL" secret:"true" validate:"required,dburl" help:"a PostgreSQL URL, e.g. postgres://user:pass@127.0.0.1:5432/tradewind?sslmode=disable"`
	RedisURL          string        `env:"TRADEWIND_REDIS_URL" secret:"true" validate:"required,redisurl" help:"a Redis URL: redis://[:password@]host:port/db (rediss:// with TLS), redis-sentinel://[:password@]host:port[,host:port...]/db?master=name (failover through Sentinel), or redis-cluster://[:password@]host:port[,host:port...] (Redis Cluster)"`
	Listen            string        `env:"TRADEWIND_LISTEN" default:"127.0.0.1:8080" validate:"hostname_port" help:"host:port, e.g. 127.0.0.1:8080 or :8080"`
	APIToken          string        `env:"TRADEWIND_API_TOKEN" secret:"true" validate:"required,min=16" help:"a random string of at least 16 characters, sent by API clients as 'Authorization: Bearer <token>'"`
	SourcesFile       string        `env:"TRADEWIND_SOURCES_FILE" validate:"required,file" help:"the path of an existing sources YAML file (see examples/sources.yaml)"`
	LogLevel          string        `env:"TRADEWIND_LOG_LEVEL" default:"info" validate:"oneof=debug info warn error" help:"one of debug, info, warn, error"`
	MaxBodyBytes      int           `env:"TRADEWIND_MAX_BODY_BYTES" default:"1048576" validate:"min=1024,max=67108864" help:"bytes between 1024 and 67108864"`
	WorkerConcurrency int           `env:"TRADEWIND_WORKER_CONCURRENCY" default:"20" validate:"min=1,max=1000" help:"a number of concurrent tasks between 1 and 1000"`
	DBMaxConns        int           `env:"TRADEWIND_DB_MAX_CONNS" default:"40" validate:"min=2,max=1000" help:"a connection count between 2 and 1000"`
	SweepInterval     time.Duration `env:"TRADEWIND_SWEEP_INTERVAL" default:"15s" validate:"min=1s,max=1h" help:"a duration between 1s and 1h, e.g. 15s"`
	SweepGrace        time.Duration `env:"TRADEWIND_SWEEP_GRACE" default:"10s" validate:"min=0,max=1h" help:"a duration between 0s and 1h, e.g. 10s"`
	OversellPolicy    string        `env:"TRADEWIND_OVERSELL_POLICY" default:"backorder" validate:"oneof=backorder cancel" help:"backorder (keep the order, wait for stock) or cancel (cancel it in Tradewind)"`
	ShedQueueDepth    int           `env:"TRADEWIND_SHED_QUEUE_DEPTH" default:"100000" validate:"min=0" help:"a task count, 0 or more (0 turns load shedding off)"`
	ShutdownTimeout   time.Duration `env:"TRADEWIND_SHUTDOWN_TIMEOUT" default:"25s" validate:"min=1s,max=10m" help:"a duration between 1s and 10m, e.g. 25s"`
	// Retention is checked against each source's provider retry window in Main.Run (jobs.RetentionPolicy).
	Retention time.Duration `env:"TRADEWIND_RETENTION" default:"720h" validate:"min=1h,max=87600h" help:"a duration from 1h to 87600h, at least the retry window of every configured source's provider (Adyen 720h, Stripe and PayPal 72h, Shopify 4h), e.g. 720h"`
	// MaxConnections 0 is sized from the open-file limit (see httpapi.ConnectionCap).
	MaxConnections       int  `env:"TRADEWIND_MAX_CONNECTIONS" default:"0" validate:"min=0,max=10000000" help:"a connection count, 0 or more (0: sized from the open-file limit, RLIMIT_NOFILE)"`
	MaxConnectionsPerIP  int  `env:"TRADEWIND_MAX_CONNECTIONS_PER_IP" default:"0" validate:"min=0,max=10000000" help:"a connection count per client IP, 0 or more (0: no per-IP limit)"`
	MetricsTokenRequired bool `env:"TRADEWIND_METRICS_TOKEN_REQUIRED" default:"false" help:"true or false"`

	// Client addresses, for the per-client limits on wrong API tokens: the load
	// balancers allowed to name the client in ClientIPHeader; from anyone else the
	// header is ignored.
	TrustedProxies string `env:"TRADEWIND_TRUSTED_PROXIES" validate:"proxies" help:"IP addresses or CIDR prefixes of your load balancers, comma-separated, e.g. 10.0.0.0/8,192.0.2.7; empty (the default) trusts none"`
	ClientIPHeader string `env:"TRADEWIND_CLIENT_IP_HEADER" default:"X-Forwarded-For" validate:"required,max=100,printascii,excludesall= :" help:"a header name, e.g. X-Forwarded-For or X-Real-IP"`

	// Conflicts that can be mere artefacts of arrival order (a refund before its
	// capture, a payment before its order's total) are shown only once they have
	// held this long; the conflicts:mature task shows them.
	ConflictGrace time.Duration `env:"TRADEWIND_CONFLICT_GRACE" default:"2m" validate:"min=0,max=24h" help:"a duration between 0s and 24h, e.g. 2m"`

	// MaxInflightBodyBytes bounds the webhook and API request body bytes held in memory at once, across all connections.
	MaxInflightBodyBytes int `env:"TRADEWIND_MAX_INFLIGHT_BODY_BYTES" default:"67108864" validate:"gtefield=MaxBodyBytes,max=17179869184" help:"bytes, at least TRADEWIND_MAX_BODY_BYTES, e.g. 67108864 (64 MiB)"`

	// The nightly reconciliation runs at this time of day in this time zone,
	// over the 24 hours before it.
	ReconcileAt string `env:"TRADEWIND_RECONCILE_AT" default:"02:30" validate:"clock" help:"a time of day HH:MM, e.g. 02:30"`
	ReconcileTZ string `env:"TRADEWIND_RECONCILE_TZ" default:"UTC" validate:"timezone" help:"an IANA time zone, e.g. UTC or Europe/Berlin"`
}

// ConfigError names the offending variable and what would be valid.
type ConfigError = envconfig.Error

// serverOnly are the fields only the HTTP server needs.
var serverOnly = []string{"Listen", "APIToken", "MaxConnections", "MaxConnectionsPerIP"}

// LoadConfig reads the configuration from getenv and validates it. Roles without
// the HTTP server (work, schedule, migrate) do not need its settings.
func LoadConfig(getenv func(string) (string, bool), withServer bool) (Config, error) {
	var cfg Config
	var except []string
	if !withServer {
		except = serverOnly
	}
	err := envconfig.Load(&cfg, getenv, newValidator(), except...)
	if err == nil && withServer && cfg.MaxConnections > 0 && cfg.MaxConnectionsPerIP > cfg.MaxConnections {
		return cfg, &ConfigError{Key: "TRADEWIND_MAX_CONNECTIONS_PER_IP",
			Problem: fmt.Sprintf("is %d, above TRADEWIND_MAX_CONNECTIONS (%d)", cfg.MaxConnectionsPerIP, cfg.MaxConnections),
			Valid:   "at most TRADEWIND_MAX_CONNECTIONS, or 0 for no per-IP limit"}
	}
	return cfg, err
}

// loadConfigFor is LoadConfig(osEnv, false) for a subcommand that uses only the
// variables uses accepts: an error about any other is ignored.
func loadConfigFor(uses func(key string) bool) (Config, error) {
	cfg, err := LoadConfig(osEnv, false)
	if ce := (*ConfigError)(nil); errors.As(err, &ce) && !uses(ce.Key) {
		err = nil
	}
	return cfg, err
}

func newValidator() *validator.Validate {
	return envconfig.NewValidator(map[string]func(string) bool{
		"dburl": func(s string) bool {
			u, err := url.Parse(s)
			return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && u.Host != ""
		},
		"redisurl": func(s string) bool { _, err := jobs.ParseRedisURL(s); return err == nil },
		"clock":    func(s string) bool { _, err := time.Parse("15:04", s); return err == nil },
		"proxies":  func(s string) bool { _, err := httpapi.ParseTrustedProxies(s); return err == nil },
	})
}

// osEnv is os.LookupEnv, named for wiring.
var osEnv = localdeps.Env(os.LookupEnv, localdeps.NoteToStderr)

// redisOptions is TRADEWIND_REDIS_URL (which LoadConfig has checked) as Asynq's connection options.
func redisOptions(cfg Config) (asynq.RedisConnOpt, error) { return jobs.ParseRedisURL(cfg.RedisURL) }
