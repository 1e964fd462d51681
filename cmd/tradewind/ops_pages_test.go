package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// An operator signs in by name; the order page finds an order that is not
// applied through the webhook and the refused request that name it, linked;
// rejections, inventory, the audit trail and the queue UI are pages; a replay
// is recorded with who did it.
func TestDashboardOpsPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config()
	cfg.SourcesFile = filepath.Join(t.TempDir(), "sources.yaml")
	sources := "sources:\n  - {id: acme-stripe, provider: stripe, secrets: [x]}\noperators:\n  - name: alice\n    password_hash: \"" + string(hash) + "\"\n"
	if err := os.WriteFile(cfg.SourcesFile, []byte(sources), 0o600); err != nil {
		t.Fatal(err)
	}
	m := e.start(cfg, Roles{Serve: true}) // no worker: webhooks wait queued

	e.send(m, delivery{testSource, "payment_intent.succeeded", webhookOptions("8801", 700)})
	forged := stripeEvent(t, "payment_intent.succeeded", "evt_forged_8801", "8801", 700, "whsec_wrong", time.Now())
	if r := post(t, webhookURL(m, testSource), forged); r.status != http.StatusUnauthorized {
		t.Fatalf("forged = %d", r.status)
	}

	o := newOps(t, m)
	if p := o.post("/ops/login", url.Values{"name": {"alice"}, "token": {"wrong"}}); p.status != http.StatusUnauthorized || len(p.cookies) != 0 {
		t.Fatalf("wrong password = %d %v, want 401 and no cookie", p.status, p.cookies)
	}
	if p := o.post("/ops/login", url.Values{"name": {"mallory"}, "token": {testToken}}); p.status != http.StatusUnauthorized {
		t.Fatalf("unknown operator with the API token as password = %d, want 401", p.status)
	}
	p := o.post("/ops/login", url.Values{"name": {"alice"}, "token": {"alice-password"}})
	if p.status != http.StatusSeeOther || len(p.cookies) != 2 {
		t.Fatalf("operator login = %d %v, want 303 and the session and actor cookies", p.status, p.cookies)
	}
	var jar []string
	for _, c := range p.cookies {
		jar = append(jar, c.Name+"="+c.Value)
	}
	o.header = http.Header{"Cookie": {strings.Join(jar, "; ")}}

	for _, tc := range []struct {
		name, path string
		status     int
		want       []string
	}{
		{"order not applied, named by requests", "/ops/orders?q=8801", http.StatusNotFound,
			[]string{"2 webhooks name it: 1 queued, 1 rejected", `href="/ops/webhooks/`, "verification_failed", "unverified", "alice", "Tradewind " + Version()}},
		{"webhooks by order ref", "/ops/webhooks?order_ref=8801", http.StatusOK, []string{`href="/ops/webhooks/`, "verification_failed"}},
		{"rejections", "/ops/rejections?cause=verification_failed", http.StatusOK, []string{"verification_failed", `href="/ops/orders?ref=8801"`}},
		{"rejections bad before", "/ops/rejections?before=x", http.StatusBadRequest, []string{"before"}},
		{"inventory list", "/ops/inventory?tracked=false", http.StatusOK, []string{"No SKUs match"}},
		{"inventory bad filter", "/ops/inventory?tracked=maybe", http.StatusBadRequest, []string{"tracked"}},
		{"queues", "/ops/queues/", http.StatusOK, []string{"<html"}},
		{"overview chart", "/ops/", http.StatusOK, []string{"<svg", `class="outcome-received"`, `class="outcome-rejected"`, "acme-stripe", `href="/ops/queues/queues/critical"`}},
		{"webhooks by type", "/ops/webhooks?type=payment_intent.succeeded", http.StatusOK, []string{"Replay all matching", `name="confirm"`}},
		{"webhooks bad since", "/ops/webhooks?since=yesterday", http.StatusBadRequest, []string{"since"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := o.get(tc.path)
			if p.status != tc.status {
				t.Errorf("GET %s = %d %q, want %d:\n%s", tc.path, p.status, p.location, tc.status, p.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("GET %s lacks %q:\n%s", tc.path, w, p.body)
				}
			}
		})
	}

	id := regexp.MustCompile(`href="/ops/webhooks/(\d+)"`).FindStringSubmatch(o.get("/ops/webhooks?order_ref=8801").body)
	if id == nil {
		t.Fatal("no webhook link")
	}
	token := o.csrf("/ops/webhooks/" + id[1])
	if p := o.post("/ops/webhooks/"+id[1]+"/replay", url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("replay without the form token = %d, want 403", p.status)
	}
	if p := o.post("/ops/webhooks/"+id[1]+"/replay", url.Values{"csrf": {token}}); p.status != http.StatusSeeOther {
		t.Fatalf("replay = %d %s", p.status, p.body)
	}
	if p := o.get("/ops/webhooks/" + id[1]); strings.Contains(p.body, "whsec") || !strings.Contains(p.body, "(redacted)") {
		t.Errorf("webhook page shows a signature in full or redacts nothing:\n%s", p.body)
	}
	token = o.csrf("/ops/webhooks")
	if p := o.post("/ops/webhooks/replay", url.Values{"csrf": {token}, "source": {testSource}}); p.status != http.StatusBadRequest {
		t.Errorf("replay all without the confirmation = %d, want 400", p.status)
	}
	if p := o.post("/ops/webhooks/replay", url.Values{"csrf": {token}, "source": {testSource}, "confirm": {"yes"}}); p.status != http.StatusSeeOther ||
		!strings.Contains(p.location, "replayed=1") {
		t.Errorf("replay all matching = %d %q, want 303 with one replayed", p.status, p.location)
	}
	if p := o.post("/ops/webhooks/replay", url.Values{"csrf": {"forged"}, "confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Errorf("replay all without the form token = %d, want 403", p.status)
	}
	token = o.csrf("/ops/inventory")
	if p := o.post("/ops/inventory", url.Values{"csrf": {token}, "sku": {"SKU-1"}, "on_hand": {"7"}}); p.status != http.StatusSeeOther {
		t.Errorf("set level = %d %s", p.status, p.body)
	}
	if p := o.get("/ops/inventory?sku=SKU-1"); !strings.Contains(p.body, "Ledger") || !strings.Contains(p.body, "Checkout reservations held") {
		t.Errorf("SKU page lacks its ledger or reservations:\n%s", p.body)
	}
	if _, err := e.db.Exec(`INSERT INTO conflicts (kind, order_ref, state, detail) VALUES ('dispute', '8801', 'open', 'opened')`); err != nil {
		t.Fatal(err)
	}
	var cid int64
	if err := e.db.Get(&cid, `SELECT id FROM conflicts WHERE order_ref = '8801'`); err != nil {
		t.Fatal(err)
	}
	token = o.csrf("/ops/conflicts")
	if p := o.post(fmt.Sprintf("/ops/conflicts/%d/resolve", cid), url.Values{"csrf": {token}, "note": {"won in Stripe"}}); p.status != http.StatusSeeOther {
		t.Errorf("resolve = %d %s", p.status, p.body)
	}
	if code := api(t, m, http.MethodPut, "/api/v1/inventory/SKU-2", map[string]int{"on_hand": 1}, nil); code != http.StatusOK {
		t.Errorf("PUT inventory = %d", code)
	}
	audit := o.get("/ops/audit").body
	for _, want := range []string{
		"<td>alice</td><td>set_level</td><td>sku SKU-1</td><td>on_hand 7</td>",
		fmt.Sprintf("<td>alice</td><td>resolve</td><td>conflict %d</td><td>won in Stripe</td>", cid),
		"<td>api-token</td><td>set_level</td><td>sku SKU-2</td>",
	} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit trail lacks %s:\n%s", want, audit)
		}
	}
	if p := o.get("/ops/audit"); !strings.Contains(p.body, "<td>alice</td><td>replay</td><td>webhook "+id[1]+"</td>") {
		t.Errorf("audit trail lacks alice's replay:\n%s", p.body)
	}
}

// Every /ops/ and /api/v1/ route the server registers refuses a request without
// a session or token: the API with 401, the dashboard with a redirect to the login.
func TestEveryRouteRefusesTheUnauthenticated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	public := map[string]bool{"/ops/login": true, "/ops/static/ops.css": true}
	seen := 0
	for _, r := range m.server.App().GetRoutes(true) {
		if (!strings.HasPrefix(r.Path, "/ops") && !strings.HasPrefix(r.Path, "/api/v1")) || public[r.Path] || r.Method == http.MethodHead {
			continue
		}
		path := regexp.MustCompile(`:[a-z]+`).ReplaceAllString(strings.ReplaceAll(r.Path, "*", "x"), "1")
		req, _ := http.NewRequest(r.Method, "http://"+m.Addr()+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen++
		if strings.HasPrefix(r.Path, "/api/v1") {
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s = %d, want 401", r.Method, path, resp.StatusCode)
			}
		} else if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ops/login") {
			t.Errorf("%s %s = %d %q, want 303 to the login", r.Method, path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if seen < 20 {
		t.Errorf("checked %d routes; the enumeration missed most of them", seen)
	}
}
