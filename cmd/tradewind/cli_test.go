package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/internal/simulate"
)

// runCLI runs the real command line with args and returns its stdout and stderr.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCommand(&out, &errOut)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// Progress written anywhere but a terminal is plain lines: a log must not fill
// with carriage-return frames (issue 13).
func TestBenchReconcileProgressOffATerminalIsPlainLines(t *testing.T) {
	t.Parallel()
	stdout, stderr, err := runCLI(t, "bench", "reconcile", "--orders", "50000")
	if err != nil {
		t.Fatalf("bench reconcile: %v\n%s", err, stderr)
	}
	if strings.ContainsAny(stderr, "\r\x1b") {
		t.Errorf("progress has carriage returns or escape codes:\n%q", stderr)
	}
	if !strings.Contains(stderr, "compared: 50000/50000 (100%)") {
		t.Errorf("progress has no plain line for the end:\n%s", stderr)
	}
	if !strings.Contains(stdout, "reconcile: 50000 orders") {
		t.Errorf("stdout has no result:\n%s", stdout)
	}
}

// startDemo runs a Main with roles serving examples/sources.yaml's sources, with
// the API token `tradewind simulate --wait` uses here, and returns it with the
// path of its sources file.
func startDemo(t *testing.T, roles Roles, token string) (*Main, string) {
	t.Helper()
	e := newEnv(t)
	path, sources := demoSources(t, nil)
	cfg := e.config()
	cfg.APIToken = token
	roles.Migrate = true
	m := NewMain(cfg, sources, testLogger())
	if err := m.Run(context.Background(), roles); err != nil {
		m.Close(context.Background())
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return m, path
}

// simulateToken is the API token `tradewind simulate --wait` sends in this process.
func simulateToken() string {
	if tok, _ := osEnv("TRADEWIND_API_TOKEN"); tok != "" {
		return tok
	}
	return simulate.DevAPIToken
}

// `simulate --wait` returns once the order is applied — every webhook it sent
// dealt with — and prints it: the README's curl, pasted right after simulate,
// found nothing yet (issue 13).
func TestSimulateWaitPrintsTheAppliedOrder(t *testing.T) {
	t.Setenv("TRADEWIND_API_TOKEN", testToken) // the token comes from the environment
	m, path := startDemo(t, allRoles, testToken)
	tests := []struct {
		name       string
		args       []string
		ref        string
		events     int
		wantStatus string // payment_status; "" for any
		summary    string
	}{
		{name: "one payment", args: []string{"stripe", "payment_intent.succeeded", "--order-ref", "5001"},
			ref: "5001", events: 1, wantStatus: "paid", summary: "sent 1 stripe webhook(s)"},
		{name: "a whole flow, shuffled and duplicated: printed once all of it is applied",
			args: []string{"stripe", "--shuffle", "--duplicates", "2", "--order-ref", "5002"},
			ref:  "5002", events: len(flowOf(t, "stripe")), summary: fmt.Sprintf("sent %d stripe webhook(s)", 2*len(flowOf(t, "stripe")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"simulate", "--wait", "--url", webhookURL(m, "demo-stripe"), "--sources-file", path}, tt.args...)
			stdout, stderr, err := runCLI(t, args...)
			if err != nil {
				t.Fatalf("simulate --wait: %v\n%s", err, stderr)
			}
			var got struct {
				Ref           string `json:"ref"`
				PaymentStatus string `json:"payment_status"`
				Events        []struct {
					Type string `json:"type"`
				} `json:"events"`
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("stdout is not the order's JSON: %v\n%s", err, stdout)
			}
			if got.Ref != tt.ref || len(got.Events) != tt.events || (tt.wantStatus != "" && got.PaymentStatus != tt.wantStatus) {
				t.Errorf("printed order %+v; want %s with %d events, payment status %q", got, tt.ref, tt.events, tt.wantStatus)
			}
			if !strings.Contains(stdout, "\n  \"ref\": \""+tt.ref+"\"") {
				t.Errorf("the order is not indented JSON:\n%s", stdout)
			}
			if !strings.Contains(stderr, tt.summary) || !strings.Contains(stderr, "order: "+tt.ref) {
				t.Errorf("stderr has no summary of what was sent (%q):\n%s", tt.summary, stderr)
			}
		})
	}
}

// When the order does not come, `simulate --wait` exits non-zero saying what
// Tradewind answered about it and its webhooks.
func TestSimulateWaitSaysWhyTheOrderDidNotCome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		roles Roles
		token string // the Tradewind's API token; "" for the one simulate sends
		args  []string
		want  []string
	}{
		{
			name: "no worker: time is up, the webhook waits and the order is not found", roles: Roles{Serve: true},
			args: []string{"stripe", "payment_intent.succeeded", "--order-ref", "5002", "--wait-timeout", "1s"},
			want: []string{`order 5002 not applied within 1s`, `answered 404: no order "5002"`,
				`(payment_intent.succeeded) received, waiting for the worker`},
		},
		{
			name: "an ignored ping: no order will come, said without waiting it out", roles: allRoles,
			args: []string{"woocommerce", "ping", "--order-ref", "5003", "--wait-timeout", "10m"},
			want: []string{`order 5003 will not be applied`, `answered 404: no order "5003"`, `(ping) ignored`},
		},
		{
			name: "a token the API refuses", roles: Roles{Serve: true}, token: "another-token-0123456789",
			args: []string{"stripe", "--order-ref", "5004"},
			want: []string{"answered 401", "set TRADEWIND_API_TOKEN"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := tt.token
			if token == "" {
				token = simulateToken()
			}
			m, path := startDemo(t, tt.roles, token)
			args := append([]string{"simulate", "--wait", "--url", webhookURL(m, "demo-"+tt.args[0]), "--sources-file", path}, tt.args...)
			stdout, stderr, err := runCLI(t, args...)
			if err == nil {
				t.Fatalf("simulate --wait succeeded; want an error\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if stdout != "" {
				t.Errorf("stdout = %q; want nothing: no order was applied", stdout)
			}
		})
	}
}

// `tradewind simulate` alone lists what it can send instead of failing; --help
// stays the help.
func TestSimulateWithoutArgumentsListsProviders(t *testing.T) {
	t.Parallel()
	path, sources := demoSources(t, nil)
	stdout, stderr, err := runCLI(t, "simulate", "--sources-file", path)
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = l
		}
	}
	for _, kind := range registry.Kinds() {
		a, _ := registry.Lookup(kind)
		var ids []string
		for id, s := range sources {
			if s.Provider == kind {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		row := rows[kind]
		if len(ids) == 0 || !strings.Contains(row, strings.Join(ids, ", ")) || !strings.Contains(row, strings.Join(a.SampleTypes(), " ")) {
			t.Errorf("%s's row %q; want its sources %v and event types %v", kind, row, ids, a.SampleTypes())
		}
	}
	if !strings.Contains(stdout, "tradewind simulate <provider> [event-type ...]") {
		t.Errorf("the list does not say how to send:\n%s", stdout)
	}

	help, _, err := runCLI(t, "simulate", "--help")
	if err != nil || !strings.Contains(help, "Usage:") || !strings.Contains(help, "--wait-timeout") || !strings.Contains(help, "Event types by provider") {
		t.Errorf("simulate --help = %v:\n%s", err, help)
	}
}

// fileCited matches what help text cites as a file of the checkout: a Markdown
// file, or a path with a directory.
var fileCited = regexp.MustCompile(`(?:[\w.-]+/)*[\w.-]+\.md\b|(?:[\w.-]+/)+[\w.-]+\.(?:ya?ml|pem|json|sh)\b`)

// Every file a command's help cites is in the repository: `bench --help` cited
// one that is not (issue 13).
func TestHelpCitesOnlyFilesInTheRepository(t *testing.T) {
	t.Parallel()
	var walk func(c *cobra.Command)
	cited := 0
	walk = func(c *cobra.Command) {
		help := c.Short + "\n" + c.Long + "\n" + c.Example + "\n" + c.Flags().FlagUsages()
		for _, f := range fileCited.FindAllString(help, -1) {
			cited++
			if _, err := os.Stat(filepath.Join("../..", f)); err != nil {
				t.Errorf("`%s --help` cites %s, which is not in the repository", c.CommandPath(), f)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(io.Discard, io.Discard))
	if cited == 0 {
		t.Error("no help cites a file; the pattern finds nothing (examples/sources.yaml is cited by simulate)")
	}
}

// `schedule --help` names everything the schedule role runs.
func TestScheduleHelpNamesWhatItRuns(t *testing.T) {
	t.Parallel()
	help, _, err := runCLI(t, "schedule", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range []string{"inbox sweeper", "reservation expiry", "conflict maturing", "retention prune", "nightly reconciliation"} {
		if !strings.Contains(help, task) {
			t.Errorf("schedule --help does not name the %s:\n%s", task, help)
		}
	}
}

// simulate's progress, written to a log rather than a terminal, is plain lines.
func TestSimulateProgressOffATerminalIsPlainLines(t *testing.T) {
	t.Parallel()
	m, path := startDemo(t, Roles{Serve: true}, simulateToken())
	stdout, stderr, err := runCLI(t, "simulate", "stripe", "--count", "20", "--concurrency", "4",
		"--url", webhookURL(m, "demo-stripe"), "--sources-file", path)
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	if strings.ContainsAny(stderr, "\r\x1b") {
		t.Errorf("progress has carriage returns or escape codes:\n%q", stderr)
	}
	if !strings.Contains(stderr, "sending: 20/20 (100%)") {
		t.Errorf("progress has no plain line for the end:\n%s", stderr)
	}
	if !strings.Contains(stdout, "sent 20 stripe webhook(s)") {
		t.Errorf("stdout has no summary:\n%s", stdout)
	}
}
