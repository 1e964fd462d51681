package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tradewind/tradewind/domain"
)

// ruleFile is promtool's rule file format (prometheus/model/rulefmt), decoded
// strictly: a misspelt key fails as promtool would fail it.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var metricName = regexp.MustCompile(`\b((?:tradewind|process|go)_[a-zA-Z0-9_:]+)`)

// promqlProblem is a minimal check of an expression: not empty, brackets and
// quotes balanced. (promtool's full parser lives in the prometheus module, too
// heavy a dependency for this.)
func promqlProblem(expr string) string {
	if strings.TrimSpace(expr) == "" {
		return "empty"
	}
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	var quote rune
	for _, r := range expr {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return "unbalanced " + string(r)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if quote != 0 || len(stack) > 0 {
		return "unclosed bracket or quote"
	}
	return ""
}

// exported returns the metric names GET /metrics shows (histograms with their
// _bucket, _sum and _count series).
func exported(t *testing.T, m *Main) map[string]bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	names := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
			if f[3] == "histogram" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f[2]+s] = true
				}
			}
		}
	}
	return names
}

// The alerting rules and the Grafana dashboard in docs/monitoring parse, and every
// metric they name is one Tradewind exports.
func TestMonitoringRulesAndDashboard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A destination, so the per-destination gauges have series to export.
	crm := newCRM(t)
	m := e.startWithDestinations([]domain.Destination{{ID: "acme-crm", Kind: domain.DestinationWebhook, URL: crm.srv.URL,
		Secrets: []string{crmSecret}, Timeout: 2 * time.Second, MaxAttempts: 3, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		BreakerFailures: 50, BreakerCooldown: time.Second}}, allRoles)
	e.send(m, delivery{testSource, "payment_intent.succeeded", webhookOptions("6601", 100)})
	waitPaymentStatus(t, m, "6601", "paid", 15*time.Second)
	have := exported(t, m)

	raw, err := os.ReadFile("../../docs/monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var rules ruleFile
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var exprs []string
	alerts := 0
	for _, g := range rules.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") {
				t.Errorf("group %s: a rule needs exactly one of alert and record (%q, %q)", g.Name, r.Alert, r.Record)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if p := promqlProblem(r.Expr); p != "" {
				t.Errorf("%s: expr %s: %q", r.Alert, p, r.Expr)
			}
			if r.Alert != "" && (r.Labels["severity"] == "" || r.Annotations["summary"] == "") {
				t.Errorf("%s: needs a severity label and a summary", r.Alert)
			}
			alerts++
			exprs = append(exprs, r.Expr)
		}
	}
	if alerts < 8 {
		t.Errorf("%d alerts; want the failing, rejected, quiet, lag, depth, archived, backlog and growth ones", alerts)
	}

	raw, err = os.ReadFile("../../docs/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("grafana-dashboard.json: %v (title %q, %d panels)", err, dash.Title, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if pr := promqlProblem(tg.Expr); pr != "" {
				t.Errorf("panel %q: %s: %q", p.Title, pr, tg.Expr)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, expr := range exprs {
		for _, name := range metricName.FindAllString(expr, -1) {
			if !have[name] {
				t.Errorf("%q names %s, which /metrics does not export", expr, name)
			}
		}
	}
}
