package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/httpapi"
	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/adapters/powertranz"
	tprom "github.com/tradewind/tradewind/adapters/prometheus"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

const secret = "whsec_guard_test"

// clock is an injected time that a test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type guardEnv struct {
	t      *testing.T
	db     *sqlx.DB
	server *httpapi.Server
	clock  *clock
	seq    atomic.Int64
}

// newGuardEnv serves the ingress over a real PostgreSQL inbox, with an injected
// clock and queue depth.
func newGuardEnv(t *testing.T, sources map[string]domain.Source, depth func(context.Context) (int, error), shedAt int) *guardEnv {
	t.Helper()
	return newGuardEnvWith(t, sources, func(p *httpapi.Params) { p.Backlog, p.ShedQueueDepth = backlogFunc(depth), shedAt })
}

// backlogFunc is a domain.BacklogReader that answers with a function.
type backlogFunc func(context.Context) (int, error)

func (f backlogFunc) Backlog(ctx context.Context) (int, error) { return f(ctx) }

// noQueue is a domain.WebhookQueue that queues nothing.
type noQueue struct{}

func (noQueue) Enqueue(context.Context, int64, domain.Source) error { return nil }

// newGuardEnvWith is newGuardEnv with params changed by set.
func newGuardEnvWith(t *testing.T, sources map[string]domain.Source, set func(p *httpapi.Params)) *guardEnv {
	t.Helper()
	db := pgtest.Open(t, 5)
	e := &guardEnv{t: t, db: db, clock: &clock{now: time.Now()}}
	p := httpapi.Params{
		Sources:   domain.Sources(sources),
		Providers: registry.New(),
		Inbox:     &postgres.Inbox{DB: db},
		Queue:     noQueue{},
		Metrics:   tprom.New(),
		APIToken:  "guard-test-token-0123", MaxBody: 64 << 10,
		Logger: slog.New(slog.DiscardHandler), Now: e.clock.Now,
	}
	set(&p)
	e.server = httpapi.New(p)
	return e
}

type reply struct {
	status     int
	retryAfter string
	code       string
}

// post sends a new, correctly signed Stripe event to source (a fresh event id
// each time, as distinct webhooks), or with a wrong secret when forged.
func (e *guardEnv) post(source string, forged bool) reply {
	e.t.Helper()
	key := secret
	if forged {
		key = "whsec_forged"
	}
	req, err := stripe.Provider{}.Sample(domain.Source{ID: source, Secrets: []string{key}}, "payment_intent.succeeded",
		webhook.SampleOptions{EventID: fmt.Sprintf("evt_guard_%d", e.seq.Add(1)), OrderRef: "9001", Now: e.clock.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	hr := httptest.NewRequest(http.MethodPost, "/webhooks/"+source, bytes.NewReader(req.Body))
	hr.Header = req.Header
	resp, err := e.server.App().Test(hr, 10_000)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var eb struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(body, &eb)
	return reply{resp.StatusCode, resp.Header.Get("Retry-After"), eb.Error.Code}
}

func (e *guardEnv) rejections(cause string) int {
	e.t.Helper()
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM rejections WHERE cause = $1`, cause); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestRateLimitAnswers429WithRetryAfterAndTheRetryIsAccepted(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, map[string]domain.Source{
		"limited":   {ID: "limited", Provider: stripe.Kind, Secrets: []string{secret}, Settings: map[string]string{"rate_limit": "0.5", "rate_burst": "2"}},
		"unlimited": {ID: "unlimited", Provider: stripe.Kind, Secrets: []string{secret}},
	}, nil, 0)

	// Forged requests are refused before the limit and do not use it up.
	for range 5 {
		if r := e.post("limited", true); r.status != http.StatusUnauthorized {
			t.Fatalf("forged: %+v, want 401", r)
		}
	}
	for i := range 2 { // the burst
		if r := e.post("limited", false); r.status != http.StatusOK {
			t.Fatalf("request %d within the burst: %+v, want 200", i, r)
		}
	}
	r := e.post("limited", false)
	if r.status != http.StatusTooManyRequests || r.code != domain.ERATELIMITED {
		t.Fatalf("over the limit: %+v, want 429 rate_limited", r)
	}
	if r.retryAfter != "2" { // one token every 2 s
		t.Errorf("Retry-After = %q, want 2", r.retryAfter)
	}
	if n := e.rejections(domain.CauseRateLimited); n != 1 {
		t.Errorf("rejections with cause rate_limited = %d, want 1", n)
	}
	for range 20 {
		if r := e.post("unlimited", false); r.status != http.StatusOK {
			t.Fatalf("a source without a limit: %+v, want 200", r)
		}
	}

	e.clock.Advance(time.Second) // not yet
	if r := e.post("limited", false); r.status != http.StatusTooManyRequests || r.retryAfter != "1" {
		t.Errorf("1 s later: %+v, want 429 with Retry-After 1", r)
	}
	e.clock.Advance(time.Second) // the wait the first 429 asked for
	if r := e.post("limited", false); r.status != http.StatusOK {
		t.Errorf("retry after Retry-After: %+v, want 200", r)
	}
	if r := e.post("limited", false); r.status != http.StatusTooManyRequests {
		t.Errorf("right after: %+v, want 429 again", r)
	}
	var stored int
	if err := e.db.Get(&stored, `SELECT count(*) FROM inbox WHERE source = 'limited'`); err != nil || stored != 3 {
		t.Errorf("stored from the limited source = %d (%v), want the 3 accepted", stored, err)
	}
}

func TestLoadSheddingAnswers503UntilTheQueueDrains(t *testing.T) {
	t.Parallel()
	var depth atomic.Int64
	var reads atomic.Int64
	e := newGuardEnv(t, map[string]domain.Source{
		"acme": {ID: "acme", Provider: stripe.Kind, Secrets: []string{secret}},
	}, func(context.Context) (int, error) { reads.Add(1); return int(depth.Load()), nil }, 100)

	depth.Store(101)
	var r reply
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		r = e.post("acme", false)
		return r.status == http.StatusServiceUnavailable, "a 503 once the depth over the threshold has been read"
	})
	if r.code != domain.CauseOverloaded || r.retryAfter == "" {
		t.Errorf("shed: %+v, want code overloaded with a Retry-After", r)
	}
	if n := e.rejections(domain.CauseOverloaded); n == 0 {
		t.Error("no rejection recorded with cause overloaded")
	}
	shedRows := 0
	if err := e.db.Get(&shedRows, `SELECT count(*) FROM inbox`); err != nil {
		t.Fatal(err)
	}

	// The depth is read at most once a second: many requests, one read.
	before := reads.Load()
	for range 50 {
		if r := e.post("acme", false); r.status != http.StatusServiceUnavailable {
			t.Fatalf("still over the threshold: %+v, want 503", r)
		}
	}
	if n := reads.Load() - before; n != 0 {
		t.Errorf("50 requests within a second read the depth %d times, want 0 (cached)", n)
	}

	depth.Store(100) // the workers caught up
	e.clock.Advance(time.Second)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		r = e.post("acme", false)
		return r.status == http.StatusOK, "the retry to be accepted once the depth has dropped"
	})
	var rows int
	if err := e.db.Get(&rows, `SELECT count(*) FROM inbox`); err != nil || rows != shedRows+1 {
		t.Errorf("inbox rows = %d (%v), want %d: only the accepted request stored", rows, err, shedRows+1)
	}
}

func TestBadRateLimitSettingsAreRefused(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		wantErr  bool
		limited  bool
	}{
		{"none", nil, false, false},
		{"rate only", map[string]string{"rate_limit": "50"}, false, true},
		{"rate and burst", map[string]string{"rate_limit": "0.5", "rate_burst": "3"}, false, true},
		{"zero rate", map[string]string{"rate_limit": "0"}, true, false},
		{"not a number", map[string]string{"rate_limit": "fast"}, true, false},
		{"burst without rate", map[string]string{"rate_burst": "3"}, true, false},
		{"zero burst", map[string]string{"rate_limit": "5", "rate_burst": "0"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, ok, err := httpapi.SourceRateLimit(domain.Source{ID: "s", Settings: tt.settings})
			if (err != nil) != tt.wantErr || ok != tt.limited {
				t.Errorf("SourceRateLimit(%v) = limited %v, %v; want limited %v, error %v", tt.settings, ok, err, tt.limited, tt.wantErr)
			}
		})
	}
}

// TestUnsignedRequestsAreLimitedByDefault: a source whose requests carry no
// signature is limited per client address without any setting (burst 10, one
// every 5 s); a signed source beside it is not.
func TestUnsignedRequestsAreLimitedByDefault(t *testing.T) {
	t.Parallel()
	e := newGuardEnvWith(t, map[string]domain.Source{
		"pt":   {ID: "pt", Provider: powertranz.Kind},
		"acme": {ID: "acme", Provider: stripe.Kind, Secrets: []string{secret}},
	}, func(*httpapi.Params) {})
	callback := func(i int) reply {
		req, err := powertranz.Provider{}.Sample(domain.Source{ID: "pt"}, powertranz.EventCallback,
			webhook.SampleOptions{EventID: fmt.Sprint("cb-", i), OrderRef: "9001", Now: e.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return e.send("pt", req)
	}
	burst := httpapi.DefaultUnsignedIPRate.Burst
	for i := range burst {
		if r := callback(i); r.status != http.StatusOK {
			t.Fatalf("callback %d within the default burst of %d: %+v, want 200", i, burst, r)
		}
	}
	r := callback(burst)
	if r.status != http.StatusTooManyRequests || r.code != domain.ERATELIMITED || r.retryAfter != "5" {
		t.Errorf("callback past the default burst: %+v, want 429 rate_limited with Retry-After 5", r)
	}
	for range 30 {
		if r := e.post("acme", false); r.status != http.StatusOK {
			t.Fatalf("a signed source from the same address: %+v, want 200", r)
		}
	}
	e.clock.Advance(5 * time.Second)
	if r := callback(burst + 1); r.status != http.StatusOK {
		t.Errorf("a callback after Retry-After: %+v, want 200", r)
	}
}

func TestBadUnsignedRateLimitSettingsAreRefused(t *testing.T) {
	def, defIP := httpapi.DefaultUnsignedRate, httpapi.DefaultUnsignedIPRate
	tests := []struct {
		name          string
		settings      map[string]string
		wantErr       bool
		source, perIP *httpapi.RateLimit // nil: off
	}{
		{"defaults", nil, false, &def, &defIP},
		{"both off", map[string]string{"unsigned_rate_limit": "off", "unsigned_ip_rate_limit": "off"}, false, nil, nil},
		{"per address set", map[string]string{"unsigned_ip_rate_limit": "0.5", "unsigned_ip_rate_burst": "3"}, false, &def, &httpapi.RateLimit{Rate: 0.5, Burst: 3}},
		{"burst alone", map[string]string{"unsigned_rate_burst": "7"}, false, &httpapi.RateLimit{Rate: def.Rate, Burst: 7}, &defIP},
		{"zero rate", map[string]string{"unsigned_rate_limit": "0"}, true, nil, nil},
		{"not a number", map[string]string{"unsigned_ip_rate_limit": "slow"}, true, nil, nil},
		{"zero burst", map[string]string{"unsigned_ip_rate_burst": "0"}, true, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := domain.Source{ID: "s", Settings: tt.settings}
			perSource, perIP, sourceOK, ipOK, err := httpapi.UnsignedRateLimits(src)
			if (err != nil) != tt.wantErr || (httpapi.CheckRateLimits(src) != nil) != tt.wantErr {
				t.Fatalf("UnsignedRateLimits(%v) error = %v, want error %v", tt.settings, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			got := func(r httpapi.RateLimit, ok bool) *httpapi.RateLimit {
				if !ok {
					return nil
				}
				return &r
			}
			if diff := cmp.Diff([]*httpapi.RateLimit{tt.source, tt.perIP}, []*httpapi.RateLimit{got(perSource, sourceOK), got(perIP, ipOK)}); diff != "" {
				t.Errorf("limits (-want +got):\n%s", diff)
			}
		})
	}
}

// send posts req to source through the app.
func (e *guardEnv) send(source string, req webhook.Request) reply {
	e.t.Helper()
	hr := httptest.NewRequest(http.MethodPost, "/webhooks/"+source, bytes.NewReader(req.Body))
	hr.Header = req.Header
	resp, err := e.server.App().Test(hr, 10_000)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	return reply{resp.StatusCode, resp.Header.Get("Retry-After"), errorCode(e.t, resp)}
}
