package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/internal/lifecycle"
	"github.com/tradewind/tradewind/internal/testenv"
)

// lockedBuffer collects a process's or a logger's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// limitedChild starts this test binary as `tradewind serve` with e's database
// and Redis, under `prlimit --nofile=N:N` when nofile > 0, with extra settings,
// and collects its output. The schema must be migrated already.
func (e *env) limitedChild(nofile int, listen string, extra ...string) (*exec.Cmd, *lockedBuffer) {
	e.t.Helper()
	sources := filepath.Join(e.t.TempDir(), "sources.yaml")
	yaml := fmt.Sprintf("sources:\n  - id: %s\n    provider: stripe\n    secrets: [%q]\n", testSource, newSecret)
	if err := os.WriteFile(sources, []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
	args := []string{os.Args[0], "-test.run=^$"}
	if nofile > 0 {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			e.t.Skip("prlimit (util-linux) is not installed: it lowers the child's open-file limit")
		}
		args = append([]string{prlimit, fmt.Sprintf("--nofile=%d:%d", nofile, nofile)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(),
		"TRADEWIND_TEST_CHILD=serve",
		"TRADEWIND_DATABASE_URL="+e.dbURL,
		"TRADEWIND_REDIS_URL="+e.redis.URL(),
		"TRADEWIND_LISTEN="+listen,
		"TRADEWIND_API_TOKEN="+testToken,
		"TRADEWIND_SOURCES_FILE="+sources,
		"TRADEWIND_LOG_LEVEL=warn",
		"TRADEWIND_DB_MAX_CONNS=10",
		"TRADEWIND_SHUTDOWN_TIMEOUT=5s",
	)
	cmd.Env = append(cmd.Env, extra...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if e.t.Failed() {
			e.t.Logf("child output:\n%s", out.String())
		}
	})
	return cmd, out
}

// waitExit waits for cmd to end and returns its exit code; it fails the test
// when the process is still running after timeout.
func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("the process is still running %s later: it hangs", timeout)
		return -1
	}
}

// fresh is a client that opens a new connection for every request.
var fresh = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func getStatus(url string) (int, string, error) {
	resp, err := fresh.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func waitStatus(t *testing.T, url string, want int, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, func() (bool, string) {
		status, body, err := getStatus(url)
		return status == want, fmt.Sprintf("GET %s = %d %s (%v), want %d", url, status, body, err, want)
	})
}

// holdIdle opens n connections to addr that send nothing, closed when the test ends.
func holdIdle(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial idle connection %d: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
	}
	return conns
}

func sigtermExitsZero(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 30*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestServeSurvivesDescriptorExhaustion: with the open-file limit at 256 and the
// connection cap out of the way, idle connections exhaust the descriptors. Fiber
// used to stop serving for good on EMFILE and the process hung, serving nothing
// and ignoring SIGTERM. Now accept backs off, the process logs why, serves again
// once the connections are gone, and exits cleanly on SIGTERM.
func TestServeSurvivesDescriptorExhaustion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(e.config(), Roles{}) // migrate only
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd, out := e.limitedChild(256, listen, "TRADEWIND_MAX_CONNECTIONS=100000")
	url := "http://" + listen
	waitStatus(t, url+"/readyz", http.StatusOK, 30*time.Second)

	idle := holdIdle(t, listen, 400)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return strings.Contains(out.String(), "could not accept a connection") && strings.Contains(out.String(), "too many open files"),
			"the child to log that accept failed with EMFILE"
	})
	for _, c := range idle {
		c.Close()
	}
	waitStatus(t, url+"/healthz", http.StatusOK, 30*time.Second)
	if n := strings.Count(out.String(), "could not accept a connection"); n > 10 {
		t.Errorf("%d accept warnings, want them rate-limited", n)
	}
	sigtermExitsZero(t, cmd)
}

// TestConnectionCapRefusesBeforeDescriptorsRunOut: with the default cap (sized
// from the open-file limit), idle connections past it are answered 503 at once,
// descriptors never run out, and the server serves as soon as they are gone.
func TestConnectionCapRefusesBeforeDescriptorsRunOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(e.config(), Roles{})
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd, out := e.limitedChild(256, listen)
	url := "http://" + listen
	waitStatus(t, url+"/readyz", http.StatusOK, 30*time.Second)

	idle := holdIdle(t, listen, 200)
	// The cap (256 − 10 database connections − 128 reserved = 118) is full of idle connections.
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		status, body, err := getStatus(url + "/healthz")
		return status == http.StatusServiceUnavailable && strings.Contains(body, "TRADEWIND_MAX_CONNECTIONS"),
			fmt.Sprintf("a 503 naming TRADEWIND_MAX_CONNECTIONS while the cap is full; got %d %s (%v)", status, body, err)
	})
	for _, c := range idle {
		c.Close()
	}
	waitStatus(t, url+"/healthz", http.StatusOK, 30*time.Second)
	if strings.Contains(out.String(), "too many open files") {
		t.Errorf("descriptors ran out despite the cap:\n%s", grepLines(out.String(), "too many open files"))
	}
	sigtermExitsZero(t, cmd)
}

// TestAddressInUseExitsWithAClearMessage: the process used to hang for ever in
// Close when the listen address was taken.
func TestAddressInUseExitsWithAClearMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(e.config(), Roles{})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	t.Run("process", func(t *testing.T) {
		cmd, out := e.limitedChild(0, taken.Addr().String())
		if code := waitExit(t, cmd, 30*time.Second); code == 0 {
			t.Errorf("exit code 0 with the address taken, want non-zero")
		}
		want := "listen " + taken.Addr().String() + ": address already in use — another process is using it; set TRADEWIND_LISTEN to another address"
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	})
	t.Run("Main", func(t *testing.T) {
		cfg := e.config()
		cfg.Listen = taken.Addr().String()
		m := NewMain(cfg, testSources(), testLogger())
		err := m.Run(context.Background(), Roles{Serve: true})
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("Run = %v, want an address-in-use error", err)
		}
		closeWithin(t, m, 10*time.Second)
	})
}

// closeWithin fails the test when m.Close does not return within timeout.
func closeWithin(t *testing.T, m *Main, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Close(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout + 5*time.Second):
		t.Fatalf("Close still running %s after its deadline: it hangs", 5*time.Second)
		return nil
	}
}

// TestServerThatStopsEndsTheRun: when the HTTP server stops by itself, the run
// ends with an error (the process exits non-zero), and Close returns — it used
// to wait for ever on a channel main had already read.
func TestServerThatStopsEndsTheRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	m.listener.Close() // the server stops serving, as on a broken listener

	waited := make(chan error, 1)
	go func() { waited <- lifecycle.WaitForStop(context.Background(), m.ServeDone(), m.ServeErr, m.Logger) }()
	select {
	case err := <-waited:
		if err == nil || !strings.Contains(err.Error(), "HTTP server stopped") {
			t.Errorf("WaitForStop = %v, want the server's stop as an error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitForStop did not notice the server stopped")
	}
	first := closeWithin(t, m, 10*time.Second)
	if second := closeWithin(t, m, 10*time.Second); fmt.Sprint(second) != fmt.Sprint(first) {
		t.Errorf("second Close = %v, want the first's result %v", second, first)
	}
	if err := lifecycle.CloseWithin(m.Config.ShutdownTimeout, m.Close, m.Logger); err != nil {
		t.Errorf("CloseWithin after Close = %v", err)
	}
}

// TestReadyzDuringOutages: /readyz names what is down, never its address, and
// serves again when it is back.
func TestReadyzDuringOutages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pg := testenv.NewProxy(t, postgresAddr(t, e.dbURL))
	cfg := e.config()
	cfg.DatabaseURL = strings.Replace(e.dbURL, postgresAddr(t, e.dbURL), pg.Addr(), 1)
	var logs lockedBuffer
	m := NewMain(cfg, testSources(), slog.New(slog.NewJSONHandler(&logs, nil)))
	if err := m.Run(context.Background(), Roles{Serve: true, Migrate: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeWithin(t, m, 10*time.Second) })
	url := "http://" + m.Addr() + "/readyz"

	readyz := func() (int, map[string]any, string) {
		status, body, err := getStatus(url)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return status, got, body
	}
	checks := func(pgState, redisState string) map[string]any {
		return map[string]any{"postgres": pgState, "redis": redisState}
	}
	tests := []struct {
		name       string
		outage     func()
		wantStatus int
		wantChecks map[string]any
		hidden     string // an address the answer must not show
	}{
		{"all up", func() {}, http.StatusOK, checks("ok", "ok"), ""},
		{"postgres down", pg.Cut, http.StatusServiceUnavailable, checks("unreachable", "ok"), pg.Addr()},
		{"both down", e.redis.Stop, http.StatusServiceUnavailable, checks("unreachable", "unreachable"), e.redis.Addr()},
		{"postgres back", pg.Restore, http.StatusServiceUnavailable, checks("ok", "unreachable"), e.redis.Addr()},
		{"redis back", e.redis.Start, http.StatusOK, checks("ok", "ok"), ""},
	}
	for _, tt := range tests {
		tt.outage()
		var (
			status int
			got    map[string]any
			body   string
		)
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			status, got, body = readyz()
			return cmp.Equal(tt.wantChecks, got["checks"]), fmt.Sprintf("%s: checks %v, now %s", tt.name, tt.wantChecks, body)
		})
		if status != tt.wantStatus {
			t.Errorf("%s: status = %d, want %d", tt.name, status, tt.wantStatus)
		}
		if tt.hidden != "" && strings.Contains(body, tt.hidden) {
			t.Errorf("%s: /readyz shows the address %s: %s", tt.name, tt.hidden, body)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"readiness check failed","check":"postgres"`) {
		t.Errorf("the postgres failure's detail is not logged:\n%s", grepLines(logs.String(), "readiness"))
	}
}

// TestRedisOutageLogsOneEnqueueWarning: during a Redis outage every webhook is
// stored and answered, and the failed enqueue used to be logged once per request.
func TestRedisOutageLogsOneEnqueueWarning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var logs lockedBuffer
	m := NewMain(e.config(), testSources(), slog.New(slog.NewJSONHandler(&logs, nil)))
	at := time.Now()
	m.Now = func() time.Time { return at } // one instant: the burst is within one rate-limit window
	if err := m.Run(context.Background(), Roles{Serve: true, Migrate: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeWithin(t, m, 10*time.Second) })
	e.redis.Stop()

	const n = 20
	for i := range n {
		r := post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", fmt.Sprintf("evt_outage_%d", i), "9700", 100, newSecret, at))
		if r.status != http.StatusOK {
			t.Fatalf("POST %d = %d %s", i, r.status, r.body)
		}
	}
	if got := e.count(`SELECT count(*) FROM inbox`); got != n {
		t.Errorf("stored %d webhooks, want %d", got, n)
	}
	if lines := strings.Count(logs.String(), "the sweeper will queue"); lines != 1 {
		t.Errorf("%d enqueue warnings for %d webhooks in one burst, want 1:\n%s", lines, n, grepLines(logs.String(), "could not queue"))
	}
}

func TestConnectionAndMetricsSettings(t *testing.T) {
	cfg, err := LoadConfig(envMap(validEnv(t)), true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConnections != 0 || cfg.MaxConnectionsPerIP != 0 || cfg.MetricsTokenRequired {
		t.Errorf("defaults: max connections %d, per IP %d, metrics token required %v; want 0, 0, false",
			cfg.MaxConnections, cfg.MaxConnectionsPerIP, cfg.MetricsTokenRequired)
	}

	tests := []struct {
		name string
		env  map[string]string
		want string // in the error; "" is valid
	}{
		{"caps", map[string]string{"TRADEWIND_MAX_CONNECTIONS": "5000", "TRADEWIND_MAX_CONNECTIONS_PER_IP": "100"}, ""},
		{"token required", map[string]string{"TRADEWIND_METRICS_TOKEN_REQUIRED": "true"}, ""},
		{"negative cap", map[string]string{"TRADEWIND_MAX_CONNECTIONS": "-1"}, `TRADEWIND_MAX_CONNECTIONS is "-1", which is not valid`},
		{"cap not a number", map[string]string{"TRADEWIND_MAX_CONNECTIONS": "lots"}, `TRADEWIND_MAX_CONNECTIONS is "lots", not a whole number`},
		{"per-IP negative", map[string]string{"TRADEWIND_MAX_CONNECTIONS_PER_IP": "-5"}, `TRADEWIND_MAX_CONNECTIONS_PER_IP is "-5"`},
		{"per-IP above the cap", map[string]string{"TRADEWIND_MAX_CONNECTIONS": "100", "TRADEWIND_MAX_CONNECTIONS_PER_IP": "200"},
			"TRADEWIND_MAX_CONNECTIONS_PER_IP is 200, above TRADEWIND_MAX_CONNECTIONS (100)"},
		{"token required not a bool", map[string]string{"TRADEWIND_METRICS_TOKEN_REQUIRED": "maybe"}, `TRADEWIND_METRICS_TOKEN_REQUIRED is "maybe", not true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv(t)
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := LoadConfig(envMap(env), true)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("LoadConfig = %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("LoadConfig = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
