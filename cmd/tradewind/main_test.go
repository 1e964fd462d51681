package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// TestMain lets the test binary stand in for the tradewind binary: a test that
// needs a process it can kill starts itself with TRADEWIND_TEST_CHILD set.
func TestMain(m *testing.M) {
	if role := os.Getenv("TRADEWIND_TEST_CHILD"); role != "" {
		cmd := newRootCommand(os.Stdout, os.Stderr)
		cmd.SetArgs([]string{role})
		if err := cmd.Execute(); err != nil {
			fmt.Fprintln(os.Stderr, "tradewind:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const (
	testToken  = "test-token-0123456789"
	newSecret  = "whsec_new_secret"
	oldSecret  = "whsec_old_secret"
	testSource = "acme-stripe"

	shopifySource = "acme-shopify"
	shopifySecret = "shopify_test_client_secret"
)

func testSources() map[string]domain.Source {
	return map[string]domain.Source{
		testSource:    {ID: testSource, Provider: stripe.Kind, Secrets: []string{newSecret, oldSecret}},
		shopifySource: {ID: shopifySource, Provider: shopify.Kind, Secrets: []string{shopifySecret}},
	}
}

// env is one Tradewind under test with its own database and Redis.
type env struct {
	t     *testing.T
	dbURL string
	redis *testenv.Redis
	db    *sqlx.DB
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dbURL: testenv.DatabaseURL(t), redis: testenv.StartRedis(t)}
	db, err := sqlx.Open("postgres", e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	return e
}

func (e *env) config() Config {
	return Config{
		DatabaseURL: e.dbURL, RedisURL: e.redis.URL(), Listen: "127.0.0.1:0", APIToken: testToken,
		SourcesFile: "unused", LogLevel: "warn", MaxBodyBytes: 64 << 10, WorkerConcurrency: 4, DBMaxConns: 10,
		SweepInterval: time.Second, SweepGrace: 0, ShutdownTimeout: 5 * time.Second,
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("TRADEWIND_TEST_LOG") != "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}

// start runs a Main with roles (migrating first) until the test ends.
func (e *env) start(cfg Config, roles Roles) *Main {
	e.t.Helper()
	roles.Migrate = true
	m := NewMain(cfg, testSources(), testLogger())
	if err := m.Run(context.Background(), roles); err != nil {
		m.Close(context.Background())
		e.t.Fatalf("Run: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return m
}

var allRoles = Roles{Serve: true, Work: true, Schedule: true}

// stripeEvent builds a signed Stripe delivery.
func stripeEvent(t *testing.T, typ, eventID, orderRef string, amount int64, secret string, at time.Time) webhook.Request {
	t.Helper()
	req, err := stripe.Provider{}.Sample(domain.Source{ID: testSource, Secrets: []string{secret}}, typ,
		webhook.SampleOptions{EventID: eventID, OrderRef: orderRef, Amount: amount, Currency: "USD", Now: at})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

type response struct {
	status int
	header http.Header
	body   string
}

func post(t *testing.T, url string, r webhook.Request) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func webhookURL(m *Main, source string) string { return "http://" + m.Addr() + "/webhooks/" + source }

type orderView struct {
	Ref           string `json:"ref"`
	Status        string `json:"status"`
	PaymentStatus string `json:"payment_status"`
	Currency      string `json:"currency"`
	Total         int64  `json:"total"`
	Events        []struct {
		Type    string `json:"type"`
		EventID string `json:"event_id"`
	} `json:"events"`
}

// getOrder reads an order through the API; ok is false on 404.
func getOrder(t *testing.T, m *Main, ref string) (orderView, bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/api/v1/orders/"+ref, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return orderView{}, false
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET order %s: %d %s", ref, resp.StatusCode, b)
	}
	var o orderView
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	return o, true
}

func waitPaymentStatus(t *testing.T, m *Main, ref, want string, timeout time.Duration) orderView {
	t.Helper()
	var o orderView
	testenv.Eventually(t, timeout, func() (bool, string) {
		var ok bool
		o, ok = getOrder(t, m, ref)
		return ok && o.PaymentStatus == want, fmt.Sprintf("order %s payment_status %q (now %+v)", ref, want, o)
	})
	return o
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Get(&n, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}
