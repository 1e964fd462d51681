package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tradewind/tradewind/internal/bench"
	"github.com/tradewind/tradewind/internal/testenv"
)

// TestBenchRunsAndWritesJSON runs every bench scenario at a tiny size and checks
// that it reports every figure and writes valid JSON. It asserts nothing about
// speed: benchmarks report, tests check behaviour.
func TestBenchRunsAndWritesJSON(t *testing.T) {
	admin := os.Getenv("TRADEWIND_TEST_DATABASE_URL")
	if admin == "" {
		t.Fatal("TRADEWIND_TEST_DATABASE_URL is not set: run the suite with `make test`")
	}
	redis := testenv.StartRedis(t)
	t.Setenv("TRADEWIND_DATABASE_URL", admin)
	t.Setenv("TRADEWIND_REDIS_URL", redis.URL()) // database 0; the bench uses and flushes 1
	database := "tw_bench_test_" + strconv.FormatUint(rand.Uint64(), 36)
	t.Cleanup(func() {
		if db, err := sql.Open("postgres", admin); err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)")
			db.Close()
		}
	})
	out := filepath.Join(t.TempDir(), "bench.json")

	var stdout, stderr bytes.Buffer
	cmd := newRootCommand(&stdout, &stderr)
	cmd.SetArgs([]string{"bench", "--duration", "300ms", "--concurrency", "2,4", "--senders", "2", "--events", "40", "--workers", "2",
		"--noop-tasks", "50", "--redis-db", "1", "--database", database, "--json", out})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("bench: %v\n%s", err, stdout.String())
	}

	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var report bench.Report
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatalf("the JSON does not parse: %v\n%s", err, raw)
	}
	if d := report.Settings["duration"]; d != "300ms" { // as text, never nanoseconds
		t.Errorf("settings duration = %v, want \"300ms\"", d)
	}
	if report.Machine.CPUs == 0 || report.Machine.Postgres == "" || report.Machine.Redis == "" {
		t.Errorf("machine = %+v, want CPUs and server versions", report.Machine)
	}
	want := map[string]int{"ingest/webhooks acked": 2, "ingest/acked at half max load": 1, "e2e/events applied": 1,
		"e2e/sustained, webhook → order": 1, "e2e/lost": 1, "e2e/applied twice": 1}
	got := map[string]int{}
	for _, f := range report.Figures {
		got[f.Scenario+"/"+f.Name]++
		if f.Baseline != "" && f.BaselineValue <= 0 {
			t.Errorf("%s %s: baseline %q measured nothing", f.Scenario, f.Name, f.Baseline)
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("figure %s reported %d times, want %d (figures: %v)", k, got[k], n, got)
		}
	}
	for _, f := range report.Figures {
		if (f.Name == "lost" || f.Name == "applied twice") && f.Value != 0 {
			t.Errorf("e2e %s = %v, want 0", f.Name, f.Value)
		}
	}
	if !strings.Contains(stdout.String(), "ratio") || !strings.Contains(stdout.String(), out) {
		t.Errorf("stdout has no table or does not name the JSON file:\n%s", stdout.String())
	}
	// Not a terminal: progress is plain lines, each step named, none drawn over another.
	if strings.ContainsAny(stderr.String(), "\r\x1b") {
		t.Errorf("progress has carriage returns or escape codes:\n%q", stderr.String())
	}
	for _, step := range []string{"ingest  baseline", "e2e     tradewind burst", "100%"} {
		if !strings.Contains(stderr.String(), step) {
			t.Errorf("progress does not show %q:\n%s", step, stderr.String())
		}
	}
}
