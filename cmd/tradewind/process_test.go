package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tradewind/tradewind/internal/testenv"
)

// child starts this test binary as `tradewind <role>` with e's configuration.
func (e *env) child(role string, cfg Config) *exec.Cmd {
	e.t.Helper()
	sources := filepath.Join(e.t.TempDir(), "sources.yaml")
	yaml := fmt.Sprintf("sources:\n  - id: %s\n    provider: stripe\n    secrets: [%q, %q]\n", testSource, newSecret, oldSecret)
	if err := os.WriteFile(sources, []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"TRADEWIND_TEST_CHILD="+role,
		"TRADEWIND_DATABASE_URL="+cfg.DatabaseURL,
		"TRADEWIND_REDIS_URL="+cfg.RedisURL,
		"TRADEWIND_LISTEN="+cfg.Listen,
		"TRADEWIND_API_TOKEN="+testToken,
		"TRADEWIND_SOURCES_FILE="+sources,
		"TRADEWIND_LOG_LEVEL=warn",
		"TRADEWIND_SWEEP_INTERVAL=1s",
		"TRADEWIND_SWEEP_GRACE=0s",
	)
	if os.Getenv("TRADEWIND_TEST_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func TestWorkerKilledMidApplyIsRetriedAndAppliesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true}) // ingress only; the worker is a process we can kill

	// Hold the order's row lock so the worker blocks inside its apply transaction.
	if _, err := e.db.Exec(`INSERT INTO orders (ref, status) VALUES ('7001', 'pending')`); err != nil {
		t.Fatal(err)
	}
	lock, err := e.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`SELECT 1 FROM orders WHERE ref = '7001' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	worker := e.child("work", e.config())
	if r := post(t, webhookURL(m, testSource), stripeEvent(t, "payment_intent.succeeded", "evt_kill_1", "7001", 3300, newSecret, time.Now())); r.status != http.StatusOK {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	waitingOnLock := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INTO orders%'`
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		return e.count(waitingOnLock) == 1, "the worker blocked inside its apply transaction"
	})

	if err := worker.Process.Kill(); err != nil { // SIGKILL: no chance to clean up
		t.Fatal(err)
	}
	_ = worker.Wait()
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		return e.count(waitingOnLock) == 0 && e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`) == 0,
			"the killed worker's transaction to end"
	})
	if n := e.count(`SELECT count(*) FROM applied_events`); n != 0 {
		t.Fatalf("applied events after the kill = %d, want 0: half an apply was committed", n)
	}

	// A new worker: Asynq hands the task over once the dead worker's lease expires.
	e.start(e.config(), Roles{Work: true})
	waitPaymentStatus(t, m, "7001", "paid", 3*time.Minute)
	if n := e.count(`SELECT count(*) FROM applied_events`); n != 1 {
		t.Errorf("applied events = %d, want 1", n)
	}
	var captured int64
	if err := e.db.Get(&captured, `SELECT captured FROM payments WHERE ref = 'pi_sim_7001'`); err != nil || captured != 3300 {
		t.Errorf("captured = %d (%v), want 3300", captured, err)
	}
}

func TestSIGTERMShutsDownGracefullyWithExitZero(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	proc := e.child("all", cfg)
	url := "http://" + cfg.Listen
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false, "the child to be ready: " + err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, "the child to be ready"
	})
	if r := post(t, url+"/webhooks/"+testSource, stripeEvent(t, "payment_intent.succeeded", "evt_term_1", "8001", 100, newSecret, time.Now())); r.status != http.StatusOK {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- proc.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("exit code %d after SIGTERM, want 0", exit.ExitCode())
		} else if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("still running 30 s after SIGTERM")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still accepting connections after exit")
	}
}
