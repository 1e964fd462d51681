package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// benchScenario is one `tradewind bench` scenario. run measures, returning its
// figures, each beside the baseline it is judged against.
type benchScenario struct {
	name  string
	short string
	// windows is how many --duration windows the scenario measures, for the progress bar.
	windows func(o benchOptions) int
	run     func(ctx context.Context, b *benchRun) ([]benchFigure, error)
}

// benchScenarios are the scenarios, in the order `tradewind bench` with no
// argument runs them. A scenario added here gets the command line, the scratch
// databases, the progress bar, the table and the JSON.
var benchScenarios = []benchScenario{
	{
		name:    "ingest",
		short:   "signed webhooks acknowledged/s and ack latency at several concurrencies, against one inbox row per commit",
		windows: func(o benchOptions) int { return 2*len(o.concurrency) + 1 },
		run:     runIngestBench,
	},
	{
		name:    "flashsale",
		short:   "reservations/s on one hot SKU and a race for the last units, against a single-row conditional UPDATE loop",
		windows: func(benchOptions) int { return 3 },
		run:     runFlashSaleBench,
	},
	{
		name:    "e2e",
		short:   "webhook in → order changed: applied/s, p99, lost and applied twice, against Asynq's own no-op task rate",
		windows: func(benchOptions) int { return 3 },
		run:     runE2EBench,
	},
	{
		name:    "downstream",
		short:   "applied/s and ack p99 with a CRM down, against the same run without destinations",
		windows: func(benchOptions) int { return 2 },
		run:     runDownstreamBench,
	},
}

// benchOptions are the command line's settings.
type benchOptions struct {
	duration    time.Duration
	concurrency []int
	senders     int
	events      int
	workers     int
	noopTasks   int
	redisDB     int
	database    string
	jsonPath    string
	cpuProfile  string
}

// benchFigure is one measured figure beside its baseline and target.
type benchFigure struct {
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
func (f benchFigure) against(name string, baseline, target float64) benchFigure {
	f.Baseline, f.BaselineValue = name, baseline
	if baseline > 0 {
		f.Ratio = f.Value / baseline
	}
	f.Target = fmt.Sprintf("≥ %.1f×", target)
	met := f.Ratio >= target
	f.Met = &met
	return f
}

func (f benchFigure) meets(target string, ok bool) benchFigure {
	f.Target, f.Met = target, &ok
	return f
}

type benchReport struct {
	StartedAt time.Time      `json:"started_at"`
	Machine   benchMachine   `json:"machine"`
	Settings  map[string]any `json:"settings"`
	Figures   []benchFigure  `json:"figures"`
}

type benchMachine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model,omitempty"`
	OS       string `json:"os"`
	Go       string `json:"go"`
	Postgres string `json:"postgres"`
	Redis    string `json:"redis"`
}

func newBenchCommand(stdout, stderr io.Writer) *cobra.Command {
	var o benchOptions
	names := make([]string, len(benchScenarios))
	var list strings.Builder
	for i, s := range benchScenarios {
		names[i] = s.name
		fmt.Fprintf(&list, "  %-10s %s\n", s.name, s.short)
	}
	cmd := &cobra.Command{
		Use:   "bench [" + strings.Join(names, "|") + " ...]",
		Short: "Measure ingest, flash-sale and end-to-end throughput against same-run baselines",
		Long: `Measure Tradewind against baselines taken in the same run, on the same machine,
and print each figure as a ratio to its baseline (PRODUCT.md's targets).

Scenarios (all of them when none is named):
` + list.String() + `
It is self-contained: it uses the PostgreSQL and Redis that ` + "`make run`" + ` starts
(or TRADEWIND_DATABASE_URL / TRADEWIND_REDIS_URL), runs Tradewind in this process on
a loopback port, and writes its figures as JSON.

It DROPS and recreates the database --database (default tradewind_bench) on that
PostgreSQL server for every scenario, and FLUSHES the Redis database number
--redis-db (default 15) on that Redis server. Nothing else is touched; it refuses
a --redis-db equal to the one TRADEWIND_REDIS_URL names.`,
		Example: `  tradewind bench
  tradewind bench ingest --duration 10s --concurrency 8,32,64
  tradewind bench e2e --workers 40 --json e2e.json`,
		Args:      cobra.OnlyValidArgs,
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd.Context(), stdout, stderr, args, o)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.duration, "duration", 6*time.Second, "length of each measured window")
	f.IntSliceVar(&o.concurrency, "concurrency", []int{8, 32, 64}, "ingest: requests (and baseline inserts) in flight at once")
	f.IntVar(&o.senders, "senders", 32, "e2e: webhooks in flight at once")
	f.IntVar(&o.events, "events", 4000, "e2e: webhooks in the burst that measures the applied rate")
	f.IntVar(&o.workers, "workers", 20, "e2e: worker concurrency, for Tradewind and for the Asynq no-op baseline")
	f.IntVar(&o.noopTasks, "noop-tasks", 30000, "e2e: no-op tasks the Asynq baseline processes")
	f.IntVar(&o.redisDB, "redis-db", 15, "Redis database number to use and FLUSH")
	f.StringVar(&o.database, "database", "tradewind_bench", "scratch PostgreSQL database to DROP and recreate")
	f.StringVar(&o.jsonPath, "json", "", "where to write the figures as JSON (default bench-<timestamp>.json)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (load generator included) to this file")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}

// benchRun is what a scenario gets: the scratch databases and the progress bar.
type benchRun struct {
	opts     benchOptions
	scenario string
	// adminURL reaches the PostgreSQL server; dbURL is the scratch database.
	adminURL, dbURL string
	redisURL        string
	redis           *redis.Client
	secret          string
	sourcesFile     string
	bar             *progressbar.ProgressBar
	stderr          io.Writer
}

func runBench(ctx context.Context, stdout, stderr io.Writer, names []string, o benchOptions) error {
	if o.duration <= 0 || o.senders < 1 || o.events < 1 || o.workers < 1 || o.noopTasks < 1 {
		return errors.New("--duration, --senders, --events, --workers and --noop-tasks must be positive")
	}
	for _, c := range o.concurrency {
		if c < 1 {
			return errors.New("--concurrency values must be at least 1")
		}
	}
	if !sourceIDPattern.MatchString(o.database) || strings.ContainsAny(o.database, "-") {
		return fmt.Errorf("--database %q: use lower-case letters, digits and _", o.database)
	}
	var scenarios []benchScenario
	for _, s := range benchScenarios {
		if len(names) == 0 || slices.Contains(names, s.name) {
			scenarios = append(scenarios, s)
		}
	}
	started := time.Now()
	if o.jsonPath == "" {
		o.jsonPath = "bench-" + started.Format("20060102-150405") + ".json"
	}

	b, err := newBenchRun(ctx, o, stderr)
	if err != nil {
		return err
	}
	stopProfile := func() {}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
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
	report := benchReport{StartedAt: started.UTC(), Machine: b.machine(ctx), Settings: map[string]any{
		"duration": o.duration.String(), "concurrency": o.concurrency, "senders": o.senders, "events": o.events,
		"workers": o.workers, "noop_tasks": o.noopTasks,
	}}
	windows := 0
	for _, s := range scenarios {
		windows += s.windows(o)
	}
	b.bar = progressbar.NewOptions64(int64(windows)*o.duration.Milliseconds(),
		progressbar.OptionSetWriter(stderr), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionSetPredictTime(false), progressbar.OptionClearOnFinish())
	for _, s := range scenarios {
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
	_ = b.bar.Finish()
	stopProfile()

	printBenchTable(stdout, report)
	raw, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.jsonPath, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	fmt.Fprintf(stdout, "\nfigures written to %s\n", o.jsonPath)
	return nil
}

// Defaults of scripts/deps.sh, which `make run` uses.
const (
	benchDefaultDatabaseURL = "postgres://postgres@127.0.0.1:55432/tradewind?sslmode=disable"
	benchDefaultRedisURL    = "redis://127.0.0.1:56379/0"
)

func newBenchRun(ctx context.Context, o benchOptions, stderr io.Writer) (*benchRun, error) {
	dbURL, ok := osEnv("TRADEWIND_DATABASE_URL")
	if !ok || dbURL == "" {
		dbURL = benchDefaultDatabaseURL
	}
	redisURL, ok := osEnv("TRADEWIND_REDIS_URL")
	if !ok || redisURL == "" {
		redisURL = benchDefaultRedisURL
	}
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("TRADEWIND_DATABASE_URL is not a PostgreSQL URL")
	}
	b := &benchRun{opts: o, adminURL: dbURL, stderr: stderr, secret: "whsec_bench_" + randomHex(8)}
	u.Path = "/" + o.database
	b.dbURL = u.String()

	ru, err := url.Parse(redisURL)
	if err != nil || (ru.Scheme != "redis" && ru.Scheme != "rediss") {
		return nil, errors.New("TRADEWIND_REDIS_URL is not a Redis URL")
	}
	if appDB, _ := strconv.Atoi(strings.Trim(ru.Path, "/")); appDB == o.redisDB {
		return nil, fmt.Errorf("--redis-db %d is the database of TRADEWIND_REDIS_URL; pick another, the bench flushes it", o.redisDB)
	}
	ru.Path = "/" + strconv.Itoa(o.redisDB)
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
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+b.opts.database+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop the scratch database: %w", err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+b.opts.database); err != nil {
		return fmt.Errorf("create the scratch database: %w", err)
	}
	return b.redis.FlushDB(ctx).Err()
}

// config is Tradewind's configuration for the bench: every default, plus the
// scratch databases and a loopback port.
func (b *benchRun) config(over map[string]string) (Config, error) {
	env := map[string]string{
		"TRADEWIND_DATABASE_URL":       b.dbURL,
		"TRADEWIND_REDIS_URL":          b.redisURL,
		"TRADEWIND_API_TOKEN":          "bench-" + randomHex(12),
		"TRADEWIND_SOURCES_FILE":       b.sourcesFile,
		"TRADEWIND_LOG_LEVEL":          "error",
		"TRADEWIND_SHED_QUEUE_DEPTH":   "0", // the ingest bench piles tasks up on purpose
		"TRADEWIND_WORKER_CONCURRENCY": strconv.Itoa(b.opts.workers),
	}
	for k, v := range over {
		env[k] = v
	}
	cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, true)
	cfg.Listen = "127.0.0.1:0" // any free loopback port (the validator wants a real one)
	return cfg, err
}

// startMain runs an in-process Tradewind with roles; stop it with Close.
func (b *benchRun) startMain(ctx context.Context, roles Roles, over map[string]string) (*Main, error) {
	cfg, err := b.config(over)
	if err != nil {
		return nil, err
	}
	sources, err := LoadSources(cfg.SourcesFile, osEnv)
	if err != nil {
		return nil, err
	}
	roles.Migrate = true
	m := NewMain(cfg, sources, newLogger(b.stderr, cfg.LogLevel))
	if err := m.Run(ctx, roles); err != nil {
		_ = m.Close(context.Background())
		return nil, err
	}
	return m, nil
}

func stopMain(m *Main) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = m.Close(ctx)
}

// step names what the progress bar shows.
func (b *benchRun) step(format string, args ...any) {
	b.bar.Describe(fmt.Sprintf("%-7s %s", b.scenario, fmt.Sprintf(format, args...)))
}

// window runs fn, a measurement of about --duration, advancing the bar with time.
func (b *benchRun) window(fn func()) {
	start := b.bar.State().CurrentNum
	end := start + b.opts.duration.Milliseconds()
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
				_ = b.bar.Set64(min(end, start+time.Since(began).Milliseconds()))
			}
		}
	}()
	fn()
	close(done)
	_ = b.bar.Set64(end)
}

func (b *benchRun) machine(ctx context.Context) benchMachine {
	m := benchMachine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
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

func printBenchTable(w io.Writer, r benchReport) {
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
