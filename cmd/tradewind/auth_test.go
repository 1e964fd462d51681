package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for Main.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// startAt is env.start with Main's clock replaced.
func (e *env) startAt(cfg Config, roles Roles, now func() time.Time) *Main {
	e.t.Helper()
	roles.Migrate = true
	m := NewMain(cfg, testSources(), testLogger())
	m.Now = now
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

// bearer calls the API from ip (sent as X-Forwarded-For) with token; it returns
// the status, the Retry-After header and the error code of the body.
func bearer(t *testing.T, m *Main, path, ip, token string) (status int, retry, code string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), body.Error.Code
}

// The repro: one wrong guess a second from one address locked out 12 of 12
// correct sign-ins from everyone. Now the guesser alone waits.
func TestWrongGuessesLockOutOnlyTheGuesser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clk := &clock{t: time.Now()}
	cfg := e.config()
	cfg.TrustedProxies = "127.0.0.1, ::1" // the test is the load balancer: X-Forwarded-For names the client
	m := e.startAt(cfg, Roles{Serve: true}, clk.Now)
	attacker := newOps(t, m)
	attacker.ip = "203.0.113.7"

	refused := 0
	for i := range 60 { // a minute of one wrong guess a second, from one address
		p := attacker.post("/ops/login", url.Values{"token": {fmt.Sprintf("guess-%02d-0123456789", i)}})
		switch p.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			refused++
			if s, err := strconv.Atoi(p.header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("guess %d refused with Retry-After %q:\n%s", i, p.header.Get("Retry-After"), p.body)
			}
		default:
			t.Fatalf("guess %d = %d:\n%s", i, p.status, p.body)
		}
		if i%5 == 0 { // meanwhile, the real operators sign in from their own addresses
			ok := newOps(t, m)
			ok.ip = fmt.Sprintf("198.51.100.%d", i)
			ok.login()
			if p := ok.get("/ops/"); p.status != http.StatusOK {
				t.Fatalf("operator %s after sign-in = %d", ok.ip, p.status)
			}
			if status, _, _ := bearer(t, m, "/api/v1/webhooks", ok.ip, testToken); status != http.StatusOK {
				t.Fatalf("API call from %s with the token = %d while another address guesses", ok.ip, status)
			}
		}
		clk.Add(time.Second)
	}
	if refused < 30 {
		t.Errorf("%d of 60 wrong guesses at one a second were refused; want most of them", refused)
	}
	// The guesser's address is refused even with the right token (else refusals
	// would tell it when a guess was right), on the form and the API alike.
	for i := 0; attacker.post("/ops/login", url.Values{"token": {"one-more-wrong-guess"}}).status != http.StatusTooManyRequests; i++ {
		if i == 2 {
			t.Fatal("three more wrong guesses at the same instant were not refused")
		}
	}
	if p := attacker.post("/ops/login", url.Values{"token": {testToken}}); p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "from your address") {
		t.Errorf("right token from the guessing address = %d, want 429 saying the address is limited:\n%s", p.status, p.body)
	}
	if status, retry, code := bearer(t, m, "/api/v1/webhooks", attacker.ip, testToken); status != http.StatusTooManyRequests || retry == "" || code != "rate_limited" {
		t.Errorf("API from the guessing address = %d Retry-After %q code %q, want 429 rate_limited with Retry-After", status, retry, code)
	}
	clk.Add(10 * time.Minute) // the bucket refills
	attacker.login()
}

// The repro: the API token could be guessed through /api/v1 at 7,540 tries a second.
func TestAPITokenGuessingIsLimitedPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true}) // no trusted proxy: X-Forwarded-For is the client's own word
	first := 0
	for i := range 50 {
		// A different X-Forwarded-For each time: ignored, the connection's address counts.
		status, retry, code := bearer(t, m, "/api/v1/orders/1", fmt.Sprintf("192.0.2.%d", i), fmt.Sprintf("guess-%02d-0123456789", i))
		if status == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(retry); err != nil || s < 1 || code != "rate_limited" {
				t.Fatalf("429 with Retry-After %q and code %q, want seconds and rate_limited", retry, code)
			}
			first = i
			break
		}
		if status != http.StatusUnauthorized || code != "unauthorized" {
			t.Fatalf("guess %d = %d %s", i, status, code)
		}
	}
	if first == 0 || first > 10 {
		t.Fatalf("first 429 after %d wrong tokens; want one after at most 10", first)
	}
	if status, _, _ := bearer(t, m, "/api/v1/orders/1", "", testToken); status != http.StatusTooManyRequests {
		t.Errorf("right token from the guessing address = %d, want 429 until it has waited", status)
	}
	// A request without credentials is not a guess, and still answers 401.
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/api/v1/orders/1", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token = %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestLogoutEndsTheSessionOnEveryReplica(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.start(e.config(), Roles{Serve: true})
	b := e.start(e.config(), Roles{Serve: true}) // a second `serve` on the same database
	o := newOps(t, a)
	o.login()
	stolen := *o.session // a copy of the cookie, as someone who saw it would keep it
	onB := &ops{t: t, base: "http://" + b.Addr(), session: &stolen}
	if p := onB.get("/ops/"); p.status != http.StatusOK {
		t.Fatalf("the session on the other replica = %d, want 200", p.status)
	}

	t.Run("GET /ops/logout does not sign out", func(t *testing.T) {
		p := o.get("/ops/logout")
		if p.status != http.StatusMethodNotAllowed || len(p.cookies) != 0 || !strings.Contains(p.body, "Sign out") {
			t.Errorf("GET /ops/logout = %d %v:\n%s", p.status, p.cookies, p.body)
		}
		if p := o.get("/ops/"); p.status != http.StatusOK {
			t.Errorf("after GET /ops/logout the session = %d, want still signed in", p.status)
		}
	})

	csrf := o.csrf("/ops/")
	t.Run("the form token is not taken from the query string", func(t *testing.T) {
		if p := o.post("/ops/logout?csrf="+url.QueryEscape(csrf), url.Values{}); p.status != http.StatusForbidden {
			t.Errorf("logout with the token in the query = %d, want 403", p.status)
		}
		if p := o.post("/ops/inventory?csrf="+url.QueryEscape(csrf), url.Values{"sku": {"SKU-Q"}, "on_hand": {"3"}}); p.status != http.StatusForbidden {
			t.Errorf("a form with the token in the query = %d, want 403", p.status)
		}
		if p := o.get("/ops/"); p.status != http.StatusOK {
			t.Errorf("after refused forms the session = %d, want still signed in", p.status)
		}
		h := &ops{t: t, base: o.base, session: o.session, header: http.Header{"X-Csrf-Token": {csrf}}}
		if p := h.post("/ops/inventory", url.Values{"sku": {"SKU-Q"}, "on_hand": {"3"}}); p.status != http.StatusSeeOther {
			t.Errorf("a form with the token in X-CSRF-Token = %d, want 303:\n%s", p.status, p.body)
		}
	})

	t.Run("POST with the form token signs out everywhere", func(t *testing.T) {
		p := o.post("/ops/logout", url.Values{"csrf": {csrf}})
		if p.status != http.StatusSeeOther || p.location != "/ops/login" || len(p.cookies) != 1 || p.cookies[0].Value != "" {
			t.Fatalf("logout = %d %q %v", p.status, p.location, p.cookies)
		}
		for name, c := range map[string]*ops{"this replica": {t: t, base: o.base, session: &stolen}, "the other replica": onB} {
			if p := c.get("/ops/"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ops/login") {
				t.Errorf("the old cookie on %s = %d %q, want 303 to the login", name, p.status, p.location)
			}
			if p := c.post("/ops/inventory", url.Values{"csrf": {csrf}, "sku": {"SKU-Q"}, "on_hand": {"9"}}); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ops/login") {
				t.Errorf("a form with the old cookie on %s = %d %q, want 303 to the login", name, p.status, p.location)
			}
		}
		if n := e.count(`SELECT count(*) FROM ops_sessions`); n != 0 {
			t.Errorf("%d sessions stored after signing out, want 0", n)
		}
	})
}
