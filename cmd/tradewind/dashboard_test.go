package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// ops is a browser on the dashboard: it keeps the session cookie and does not
// follow redirects, so tests see them.
type ops struct {
	t       *testing.T
	base    string
	session *http.Cookie
	ip      string      // sent as X-Forwarded-For, for servers that trust the test as a proxy
	header  http.Header // sent with every request
}

func newOps(t *testing.T, m *Main) *ops { return &ops{t: t, base: "http://" + m.Addr()} }

type page struct {
	status   int
	location string
	body     string
	cookies  []*http.Cookie
	header   http.Header
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (o *ops) do(method, path string, form url.Values) page {
	o.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, o.base+path, body)
	if err != nil {
		o.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if o.session != nil {
		req.AddCookie(o.session)
	}
	if o.ip != "" {
		req.Header.Set("X-Forwarded-For", o.ip)
	}
	for k, v := range o.header {
		req.Header[k] = v
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), cookies: resp.Cookies(), header: resp.Header}
}

func (o *ops) get(path string) page { o.t.Helper(); return o.do(http.MethodGet, path, nil) }

func (o *ops) post(path string, form url.Values) page {
	o.t.Helper()
	return o.do(http.MethodPost, path, form)
}

// login signs in with the API token and keeps the session cookie.
func (o *ops) login() {
	o.t.Helper()
	p := o.post("/ops/login", url.Values{"token": {testToken}})
	if p.status != http.StatusSeeOther || len(p.cookies) != 1 {
		o.t.Fatalf("login = %d %v, want 303 and a cookie", p.status, p.cookies)
	}
	o.session = p.cookies[0]
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the form token from a dashboard page.
func (o *ops) csrf(path string) string {
	o.t.Helper()
	p := o.get(path)
	match := csrfField.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || match == nil {
		o.t.Fatalf("GET %s = %d without a form token:\n%s", path, p.status, p.body)
	}
	return match[1]
}

func TestDashboardLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	o := newOps(t, m)

	t.Run("unauthenticated pages redirect to the login", func(t *testing.T) {
		for _, path := range []string{"/ops/", "/ops/webhooks?status=failed", "/ops/conflicts", "/ops/orders?ref=1", "/ops/nowhere"} {
			p := o.get(path)
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ops/login?next=") {
				t.Errorf("GET %s = %d %q, want 303 to the login", path, p.status, p.location)
			}
		}
		if p := o.get("/ops/webhooks?status=failed"); p.location != "/ops/login?next="+url.QueryEscape("/ops/webhooks?status=failed") {
			t.Errorf("login redirect = %q, want it to come back to the page asked for", p.location)
		}
		if p := o.post("/ops/conflicts/1/resolve", url.Values{"note": {"x"}}); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ops/login") {
			t.Errorf("POST without a session = %d %q, want 303 to the login", p.status, p.location)
		}
		if p := o.get("/ops/login"); p.status != http.StatusOK || !strings.Contains(p.body, `name="token"`) {
			t.Errorf("GET /ops/login = %d, want the form", p.status)
		}
	})

	t.Run("a wrong token shows an error and sets no cookie", func(t *testing.T) {
		p := o.post("/ops/login", url.Values{"token": {"not-the-token-at-all"}})
		if p.status != http.StatusUnauthorized || len(p.cookies) != 0 || !strings.Contains(p.body, "TRADEWIND_API_TOKEN") {
			t.Errorf("wrong token = %d, cookies %v, body:\n%s", p.status, p.cookies, p.body)
		}
	})

	t.Run("a forged or stale cookie is not a session", func(t *testing.T) {
		bad := &ops{t: t, base: o.base, session: &http.Cookie{Name: "tradewind_ops", Value: "9999999999.forged"}}
		if p := bad.get("/ops/"); p.status != http.StatusSeeOther {
			t.Errorf("forged cookie = %d, want 303 to the login", p.status)
		}
	})

	t.Run("the right token opens the overview", func(t *testing.T) {
		p := o.post("/ops/login", url.Values{"token": {testToken}, "next": {"/ops/webhooks"}})
		if p.status != http.StatusSeeOther || p.location != "/ops/webhooks" || len(p.cookies) != 1 {
			t.Fatalf("login = %d %q %v", p.status, p.location, p.cookies)
		}
		c := p.cookies[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ops" || c.Expires.IsZero() {
			t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/ops and an expiry", c)
		}
		o.session = c
		p = o.get("/ops/")
		if p.status != http.StatusOK || !strings.Contains(p.body, "<h1>Overview</h1>") || !strings.Contains(p.body, "open conflicts") {
			t.Errorf("overview = %d:\n%s", p.status, p.body)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("headers = %v, want a CSP without scripts and no caching", p.header)
		}
	})

	t.Run("logout clears the cookie", func(t *testing.T) {
		p := o.post("/ops/logout", url.Values{"csrf": {o.csrf("/ops/")}})
		if p.status != http.StatusSeeOther || len(p.cookies) != 1 || p.cookies[0].Value != "" || !p.cookies[0].Expires.Before(time.Now()) {
			t.Errorf("logout = %d %+v, want the cookie cleared", p.status, p.cookies)
		}
	})
}

func TestDashboardReplaysFailedWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	blind := NewMain(e.config(), map[string]domain.Source{}, testLogger()) // a worker that fails the entry for good
	if err := blind.Run(context.Background(), Roles{Work: true}); err != nil {
		t.Fatal(err)
	}
	e.send(m, delivery{testSource, "payment_intent.succeeded", webhookOptions("9501", 300)})
	o := newOps(t, m)
	o.login()
	var list page
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		list = o.get("/ops/webhooks?status=failed&source=" + testSource)
		return strings.Contains(list.body, "no longer configured"), "the failed webhook listed with its error"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	blind.Close(ctx)
	var id int64
	if _, err := fmt.Sscanf(regexp.MustCompile(`href="/ops/webhooks/(\d+)"`).FindStringSubmatch(list.body)[1], "%d", &id); err != nil {
		t.Fatal(err)
	}
	detail := fmt.Sprintf("/ops/webhooks/%d", id)
	if p := o.get(detail); p.status != http.StatusOK || !strings.Contains(p.body, "pi_sim_9501") || !strings.Contains(p.body, "Stripe-Signature") {
		t.Fatalf("detail = %d, want its headers and body:\n%s", p.status, p.body)
	}

	e.start(e.config(), Roles{Work: true}) // a worker that knows the source again
	p := o.post(detail+"/replay", url.Values{"csrf": {o.csrf(detail)}})
	if p.status != http.StatusSeeOther || p.location != detail+"?replayed=1" {
		t.Fatalf("replay = %d %q:\n%s", p.status, p.location, p.body)
	}
	waitPaymentStatus(t, m, "9501", "paid", 15*time.Second)

	// Applied now: the button is gone, and a replay says why it did nothing.
	if p := o.get(detail); strings.Contains(p.body, ">Replay</button>") {
		t.Error("an applied webhook still offers Replay")
	}
	p = o.post(detail+"/replay", url.Values{"csrf": {o.csrf(detail)}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "applied already") {
		t.Errorf("replaying an applied webhook = %d:\n%s", p.status, p.body)
	}
}

func TestDashboardResolvesConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	e.send(m, delivery{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: "evt_d1", OrderRef: "9601", Amount: 700, Now: at}})
	e.send(m, delivery{testSource, "charge.dispute.created", webhook.SampleOptions{EventID: "evt_d2", OrderRef: "9601", Amount: 700, Now: at.Add(time.Second)}})
	var list conflictList
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/conflicts?state=open&kind="+domain.ConflictDispute, nil, &list)
		return len(list.Conflicts) == 1, fmt.Sprintf("one open dispute conflict (have %+v)", list.Conflicts)
	})
	id := list.Conflicts[0].ID
	o := newOps(t, m)
	o.login()
	resolve := fmt.Sprintf("/ops/conflicts/%d/resolve", id)
	isOpen := func() bool {
		api(t, m, http.MethodGet, "/api/v1/conflicts?state=all&kind="+domain.ConflictDispute, nil, &list)
		return len(list.Conflicts) == 1 && list.Conflicts[0].State == domain.ConflictOpen
	}

	t.Run("a form without its CSRF token is refused", func(t *testing.T) {
		for name, form := range map[string]url.Values{
			"missing": {"note": {"answered the dispute"}},
			"forged":  {"note": {"answered the dispute"}, "csrf": {"forged"}},
		} {
			if p := o.post(resolve, form); p.status != http.StatusForbidden || !strings.Contains(p.body, "reload the page") {
				t.Errorf("%s CSRF token = %d:\n%s", name, p.status, p.body)
			}
		}
		if !isOpen() {
			t.Error("a refused form resolved the conflict")
		}
	})

	page := o.get("/ops/conflicts?state=open")
	if !strings.Contains(page.body, `action="`+resolve+`"`) || !strings.Contains(page.body, "9601") {
		t.Fatalf("conflicts page has no Resolve form for %d:\n%s", id, page.body)
	}
	csrf := csrfField.FindStringSubmatch(page.body)[1]

	t.Run("a note is required", func(t *testing.T) {
		if p := o.post(resolve, url.Values{"csrf": {csrf}, "note": {"  "}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "write a note") {
			t.Errorf("resolve without a note = %d:\n%s", p.status, p.body)
		}
		if !isOpen() {
			t.Error("resolved without a note")
		}
	})

	t.Run("the form resolves it with the note", func(t *testing.T) {
		p := o.post(resolve, url.Values{"csrf": {csrf}, "note": {"answered the dispute in Stripe"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("resolve = %d:\n%s", p.status, p.body)
		}
		if isOpen() || list.Conflicts[0].Note != "answered the dispute in Stripe" {
			t.Errorf("conflict after resolve = %+v", list.Conflicts)
		}
		if p := o.get(p.location); !strings.Contains(p.body, fmt.Sprintf("Conflict %d resolved.", id)) {
			t.Errorf("no notice after resolving:\n%s", p.body)
		}
		if p := o.post(resolve, url.Values{"csrf": {csrf}, "note": {"again"}}); p.status != http.StatusConflict || !strings.Contains(p.body, "already resolved") {
			t.Errorf("resolving twice = %d:\n%s", p.status, p.body)
		}
	})

	t.Run("the order page shows status, lines, timeline and conflicts", func(t *testing.T) {
		p := o.get("/ops/orders?ref=9601")
		for _, want := range []string{"disputed", "evt_d1", "evt_d2", domain.ConflictDispute} {
			if !strings.Contains(p.body, want) {
				t.Errorf("order page lacks %q:\n%s", want, p.body)
			}
		}
		if p := o.get("/ops/orders?ref=nope"); p.status != http.StatusNotFound || !strings.Contains(p.body, "Check the ref") {
			t.Errorf("unknown order = %d:\n%s", p.status, p.body)
		}
	})
}

func TestDashboardInventory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	o := newOps(t, m)
	o.login()
	if p := o.get("/ops/inventory?sku=SKU-OPS"); p.status != http.StatusNotFound || !strings.Contains(p.body, "set its on-hand level below") {
		t.Errorf("unknown SKU = %d:\n%s", p.status, p.body)
	}
	csrf := o.csrf("/ops/inventory")
	p := o.post("/ops/inventory", url.Values{"csrf": {csrf}, "sku": {"SKU-OPS"}, "on_hand": {"12"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("set on hand = %d:\n%s", p.status, p.body)
	}
	var st domain.Stock
	if api(t, m, http.MethodGet, "/api/v1/inventory/SKU-OPS", nil, &st); st.OnHand != 12 || st.Available != 12 {
		t.Errorf("stock after the form = %+v, want 12 on hand", st)
	}
	if p := o.get(p.location); !strings.Contains(p.body, "On hand saved.") || !strings.Contains(p.body, "<td>12</td>") {
		t.Errorf("inventory page after saving:\n%s", p.body)
	}
	for _, bad := range []string{"-1", "twelve", ""} {
		if p := o.post("/ops/inventory", url.Values{"csrf": {csrf}, "sku": {"SKU-OPS"}, "on_hand": {bad}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "whole number") {
			t.Errorf("on_hand %q = %d:\n%s", bad, p.status, p.body)
		}
	}
	if api(t, m, http.MethodGet, "/api/v1/inventory/SKU-OPS", nil, &st); st.OnHand != 12 {
		t.Errorf("a refused form changed the stock: %+v", st)
	}
}

func TestDashboardEscapesHostileEventID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	const hostile = `evt_"><script>alert(1)</script>`
	e.send(m, delivery{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: hostile, OrderRef: "9701", Amount: 100}})
	o := newOps(t, m)
	o.login()
	list := o.get("/ops/webhooks")
	detail := o.get("/ops/webhooks/1")
	for name, p := range map[string]page{"list": list, "detail": detail} {
		if p.status != http.StatusOK || strings.Contains(p.body, "<script>") || !strings.Contains(p.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s = %d, want the event id escaped:\n%s", name, p.status, p.body)
		}
	}
	// No worker runs: the overview counts it as received, and shows no error.
	if p := o.get("/ops/"); !strings.Contains(p.body, `<div class="n status-received">1</div>`) || strings.Contains(p.body, `class="error"`) {
		t.Errorf("overview:\n%s", p.body)
	}
}

func TestDashboardSlowsDownTokenGuessing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	o := newOps(t, m)
	limited := 0
	for i := range 15 {
		p := o.post("/ops/login", url.Values{"token": {fmt.Sprintf("guess-%d-0123456789", i)}})
		switch p.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("guess %d = %d", i, p.status)
		}
	}
	if limited == 0 {
		t.Error("15 wrong sign-ins in a row were all answered 401; want the later ones refused with 429")
	}
}
