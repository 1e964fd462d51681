// Package bench is `tradewind bench`: it measures an in-process Tradewind against
// baselines taken in the same run, on the same machine, and reports each figure as a
// ratio to its baseline, as a table and as JSON (the targets of the README's "Benchmarks").
//
// It lives in internal/ because it is a tool of the binary, not part of the service.
// It starts Tradewind through Options.Start, which cmd/tradewind wires to its Main, so
// it measures the real wiring without importing it.
package bench

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/tradewind/tradewind/internal/progress"
)

// scenario is one `tradewind bench` scenario. run measures, returning its
// figures, each beside the baseline it is judged against.
type scenario struct {
	name  string
	short string
	// windows is how many --duration windows the scenario measures, for the progress bar.
	windows func(o Options) int
	run     func(ctx context.Context, b *benchRun) ([]Figure, error)
}

// scenarios are the scenarios, in the order `tradewind bench` with no
// argument runs them. A scenario added here gets the command line, the scratch
// databases, the progress bar, the table and the JSON.
var scenarios = []scenario{
	{
		name:    "ingest",
		short:   "signed webhooks acknowledged/s and ack latency at several concurrencies, against one inbox row per commit",
		windows: func(o Options) int { return 2*len(o.Concurrency) + 1 },
		run:     runIngestBench,
	},
	{
		name:    "flashsale",
		short:   "reservations/s on one hot SKU and a race for the last units, against a single-row conditional UPDATE loop",
		windows: func(Options) int { return 3 },
		run:     runFlashSaleBench,
	},
	{
		name:    "e2e",
		short:   "webhook in → order changed: applied/s, p99, lost and applied twice, against Asynq's own no-op task rate",
		windows: func(Options) int { return 3 },
		run:     runE2EBench,
	},
	{
		name:    "downstream",
		short:   "applied/s and ack p99 with a CRM down, against the same run without destinations",
		windows: func(Options) int { return 2 * downstreamRounds },
		run:     runDownstreamBench,
	},
}

// Options are the command line's settings and how to start a Tradewind.
type Options struct {
	Duration    time.Duration // length of each measured window
	Concurrency []int         // ingest: requests (and baseline inserts) in flight at once
	Senders     int           // e2e: webhooks in flight at once
	Events      int           // e2e: webhooks in the burst that measures the applied rate
	Workers     int           // e2e: worker concurrency, for Tradewind and the Asynq baseline
	NoopTasks   int           // e2e: no-op tasks the Asynq baseline processes
	RedisDB     int           // Redis database number to use and FLUSH
	Database    string        // scratch PostgreSQL database to DROP and recreate
	JSONPath    string        // where to write the figures; default bench-<timestamp>.json
	CPUProfile  string        // a CPU profile of the whole run, when set

	// DatabaseURL and RedisURL name the servers (TRADEWIND_DATABASE_URL and
	// TRADEWIND_REDIS_URL); empty, those of `make run`.
	DatabaseURL, RedisURL string

	// Start runs an in-process Tradewind; the bench stops it with its Close.
	Start StartFunc
}

// Roles say which components of Tradewind a scenario runs.
type Roles struct {
	Serve bool // ingress, API
	Work  bool // Asynq worker
}

// Tradewind is an in-process Tradewind that Options.Start started.
type Tradewind struct {
	Addr     string   // host:port of its HTTP server
	DB       *sqlx.DB // its database pool
	APIToken string
	Close    func(ctx context.Context) error
}

// StartFunc starts an in-process Tradewind running roles, with the configuration
// env gives (TRADEWIND_* variables; the others at their defaults), on a free
// loopback port, applying migrations first.
type StartFunc func(ctx context.Context, roles Roles, env map[string]string) (*Tradewind, error)

// Names are the scenarios' names, in the order Run runs them.
func Names() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// Help lists the scenarios, one a line, for --help.
func Help() string {
	var list strings.Builder
	for _, s := range scenarios {
		fmt.Fprintf(&list, "  %-10s %s\n", s.name, s.short)
	}
	return list.String()
}

// Figure is one measured figure beside its baseline and target.
type Figure struct {
	Scenario    string  `json:"scenario"`
	Name        string  `json:"name"`
	Concurrency int     `json:"concurrency,omitempty"`
	Value       float64 `json:"value"`
	Unit        string  `json:"unit"`
	P50Ms       float64 `json:"p50_ms,omitempty"`
	P99Ms       float64 `json:"p99_ms,omitempty"`
	// Baseline is what Value is compared with, measured in the same run.
	Baseline      string  `json:"baseline,omitempty"`
	BaselineValue float64 `json:"baseline_value,omitempty"`
	Ratio         float64 `json:"ratio,omitempty"`
	Target        string  `json:"target,omitempty"`
	Met           *bool   `json:"met,omitempty"`
	Note          string  `json:"note,omitempty"`
}

// ratioFigure sets the baseline, the ratio and whether it meets target×.
func (f Figure) against(name string, baseline, target float64) Figure {
	f.Baseline, f.BaselineValue = name, baseline
	if baseline > 0 {
		f.Ratio = f.Value / baseline
	}
	f.Target = fmt.Sprintf("≥ %.1f×", target)
	met := f.Ratio >= target
	f.Met = &met
	return f
}

func (f Figure) meets(target string, ok bool) Figure {
	f.Target, f.Met = target, &ok
	return f
}

// Report is what a run measured: the JSON it writes, recomputed from outside.
type Report struct {
	StartedAt time.Time      `json:"started_at"`
	Machine   Machine        `json:"machine"`
	Settings  map[string]any `json:"settings"`
	Figures   []Figure       `json:"figures"`
}

// Machine is where a run measured.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model,omitempty"`
	OS       string `json:"os"`
	Go       string `json:"go"`
	Postgres string `json:"postgres"`
	Redis    string `json:"redis"`
}

// benchRun is what a scenario gets: the scratch databases and the progress bar.
type benchRun struct {
	opts     Options
	scenario string
	// adminURL reaches the PostgreSQL server; dbURL is the scratch database.
	adminURL, dbURL string
	redisURL        string
	redis           *redis.Client
	secret          string
	sourcesFile     string
	bar             progress.Bar
	stderr          io.Writer
}

// Run runs the named scenarios (all of them when names is empty), prints the table
// on stdout and writes the JSON to o.JSONPath; progress goes to stderr.
func Run(ctx context.Context, stdout, stderr io.Writer, names []string, o Options) error {
	if o.Duration <= 0 || o.Senders < 1 || o.Events < 1 || o.Workers < 1 || o.NoopTasks < 1 {
		return errors.New("--duration, --senders, --events, --workers and --noop-tasks must be positive")
	}
	for _, c := range o.Concurrency {
		if c < 1 {
			return errors.New("--concurrency values must be at least 1")
		}
	}
	if o.Start == nil {
		return errors.New("bench: Options.Start is not set")
	}
	if !databaseName.MatchString(o.Database) {
		return fmt.Errorf("--database %q: use lower-case letters, digits and _", o.Database)
	}
	var chosen []scenario
	for _, s := range scenarios {
		if len(names) == 0 || slices.Contains(names, s.name) {
			chosen = append(chosen, s)
		}
	}
	started := time.Now()
	if o.JSONPath == "" {
		o.JSONPath = "bench-" + started.Format("20060102-150405") + ".json"
	}

	b, err := newBenchRun(ctx, o, stderr)
	if err != nil {
		return err
	}
	stopProfile := func() {}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		defer stopProfile()
	}
	defer b.redis.Close()
	report := Report{StartedAt: started.UTC(), Machine: b.machine(ctx), Settings: map[string]any{
		"duration": o.Duration.String(), "concurrency": o.Concurrency, "senders": o.Senders, "events": o.Events,
		"workers": o.Workers, "noop_tasks": o.NoopTasks,
	}}
	windows := 0
	for _, s := range chosen {
		windows += s.windows(o)
	}
	// The bar's units are milliseconds of measured windows: it moves with time.
	b.bar = progress.New(stderr, int64(windows)*o.Duration.Milliseconds(), progress.Options{Width: 30, ClearOnFinish: true})
	for _, s := range chosen {
		b.scenario = s.name
		if err := b.reset(ctx); err != nil {
			return err
		}
		figs, err := s.run(ctx, b)
		if err != nil {
			return fmt.Errorf("bench %s: %w", s.name, err)
		}
		for i := range figs {
			figs[i].Scenario = s.name
		}
		report.Figures = append(report.Figures, figs...)
	}
	b.bar.Finish()
	stopProfile()

	printBenchTable(stdout, report)
	raw, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.JSONPath, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	fmt.Fprintf(stdout, "\nfigures written to %s\n", o.JSONPath)
	return nil
}

// Defaults of scripts/deps.sh, which `make run` uses.
const (
	benchDefaultDatabaseURL = "postgres://postgres@127.0.0.1:55432/tradewind?sslmode=disable"
	benchDefaultRedisURL    = "redis://127.0.0.1:56379/0"
)

func newBenchRun(ctx context.Context, o Options, stderr io.Writer) (*benchRun, error) {
	dbURL := o.DatabaseURL
	if dbURL == "" {
		dbURL = benchDefaultDatabaseURL
	}
	redisURL := o.RedisURL
	if redisURL == "" {
		redisURL = benchDefaultRedisURL
	}
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("TRADEWIND_DATABASE_URL is not a PostgreSQL URL")
	}
	b := &benchRun{opts: o, adminURL: dbURL, stderr: stderr, secret: "whsec_bench_" + randomHex(8)}
	u.Path = "/" + o.Database
	b.dbURL = u.String()

	ru, err := url.Parse(redisURL)
	if err != nil || (ru.Scheme != "redis" && ru.Scheme != "rediss") {
		return nil, errors.New("TRADEWIND_REDIS_URL is not a Redis URL")
	}
	if appDB, _ := strconv.Atoi(strings.Trim(ru.Path, "/")); appDB == o.RedisDB {
		return nil, fmt.Errorf("--redis-db %d is the database of TRADEWIND_REDIS_URL; pick another, the bench flushes it", o.RedisDB)
	}
	ru.Path = "/" + strconv.Itoa(o.RedisDB)
	b.redisURL = ru.String()
	opt, err := redis.ParseURL(b.redisURL)
	if err != nil {
		return nil, fmt.Errorf("TRADEWIND_REDIS_URL: %w", err)
	}
	b.redis = redis.NewClient(opt)
	if err := b.redis.Ping(ctx).Err(); err != nil {
		b.redis.Close()
		return nil, fmt.Errorf("Redis at %s does not answer (start it with `make run` or scripts/deps.sh start): %w", ru.Host, err)
	}

	dir, err := os.MkdirTemp("", "tradewind-bench-")
	if err != nil {
		return nil, err
	}
	b.sourcesFile = filepath.Join(dir, "sources.yaml")
	src := fmt.Sprintf("sources:\n  - id: %s\n    provider: stripe\n    secrets: [%q]\n", benchSource, b.secret)
	if err := os.WriteFile(b.sourcesFile, []byte(src), 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

const benchSource = "bench-stripe"

// reset drops and recreates the scratch database and flushes the Redis database.
func (b *benchRun) reset(ctx context.Context) error {
	admin, err := sql.Open("postgres", b.adminURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		// The database of the URL may not exist yet; the maintenance database does.
		admin.Close()
		u, _ := url.Parse(b.adminURL)
		u.Path = "/postgres"
		if admin, err = sql.Open("postgres", u.String()); err != nil {
			return err
		}
		if err := admin.PingContext(ctx); err != nil {
			return fmt.Errorf("PostgreSQL does not answer (start it with `make run` or scripts/deps.sh start): %w", err)
		}
	}
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+b.opts.Database+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop the scratch database: %w", err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+b.opts.Database); err != nil {
		return fmt.Errorf("create the scratch database: %w", err)
	}
	return b.redis.FlushDB(ctx).Err()
}

// env is Tradewind's configuration for the bench: every default, plus the
// scratch databases.
func (b *benchRun) env() map[string]string {
	return map[string]string{
		"TRADEWIND_DATABASE_URL":       b.dbURL,
		"TRADEWIND_REDIS_URL":          b.redisURL,
		"TRADEWIND_API_TOKEN":          "bench-" + randomHex(12),
		"TRADEWIND_SOURCES_FILE":       b.sourcesFile,
		"TRADEWIND_LOG_LEVEL":          "error",
		"TRADEWIND_SHED_QUEUE_DEPTH":   "0", // the ingest bench piles tasks up on purpose
		"TRADEWIND_WORKER_CONCURRENCY": strconv.Itoa(b.opts.Workers),
	}
}

// start runs an in-process Tradewind with roles; stop it with stop.
func (b *benchRun) start(ctx context.Context, roles Roles) (*Tradewind, error) {
	return b.opts.Start(ctx, roles, b.env())
}

func stop(tw *Tradewind) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = tw.Close(ctx)
}

// step names what the progress bar shows.
func (b *benchRun) step(format string, args ...any) {
	b.bar.Describe(fmt.Sprintf("%-7s %s", b.scenario, fmt.Sprintf(format, args...)))
}

// window runs fn, a measurement of about --duration, advancing the bar with time.
func (b *benchRun) window(fn func()) {
	start := b.bar.Current()
	end := start + b.opts.Duration.Milliseconds()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		began := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				b.bar.Set(min(end, start+time.Since(began).Milliseconds()))
			}
		}
	}()
	fn()
	close(done)
	b.bar.Set(end)
}

func (b *benchRun) machine(ctx context.Context) Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if db, err := sql.Open("postgres", b.adminURL); err == nil {
		_ = db.QueryRowContext(ctx, "SHOW server_version").Scan(&m.Postgres)
		db.Close()
	}
	if info, err := b.redis.Info(ctx, "server").Result(); err == nil {
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				m.Redis = v
			}
		}
	}
	return m
}

func printBenchTable(w io.Writer, r Report) {
	fmt.Fprintf(w, "\n%d CPUs (%s), %s, PostgreSQL %s, Redis %s, %s\n\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.OS,
		r.Machine.Postgres, r.Machine.Redis, r.Machine.Go)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tfigure\tconc\tvalue\tp50 ms\tp99 ms\tbaseline\tratio\ttarget\tmet\t")
	for _, f := range r.Figures {
		conc, p50, p99, base, ratio, met := "", "", "", "", "", ""
		if f.Concurrency > 0 {
			conc = strconv.Itoa(f.Concurrency)
		}
		if f.P50Ms > 0 {
			p50 = fmt.Sprintf("%.2f", f.P50Ms)
		}
		if f.P99Ms > 0 {
			p99 = fmt.Sprintf("%.2f", f.P99Ms)
		}
		if f.Baseline != "" {
			base = fmt.Sprintf("%s %s", formatValue(f.BaselineValue), f.Baseline)
			ratio = fmt.Sprintf("%.2f×", f.Ratio)
		}
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*f.Met]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", f.Scenario, f.Name, conc, formatValue(f.Value), f.Unit,
			p50, p99, base, ratio, f.Target, met)
	}
	_ = tw.Flush()
	for _, f := range r.Figures {
		if f.Note != "" {
			fmt.Fprintf(w, "  %s %s: %s\n", f.Scenario, f.Name, f.Note)
		}
	}
}

func formatValue(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// asynqRedis is the bench Redis as Asynq's connection option.
func (b *benchRun) asynqRedis() (asynq.RedisConnOpt, error) { return asynq.ParseRedisURI(b.redisURL) }

// quietLogger drops the logs of bench-only components.
var quietLogger = slog.New(slog.DiscardHandler)

// databaseName is what --database may be: it is spliced into DROP and CREATE DATABASE.
var databaseName = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,63}$`)

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}
