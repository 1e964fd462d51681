package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/httpapi"
	tprom "github.com/tradewind/tradewind/adapters/prometheus"
)

const readyToken = "ready-test-token-0123"

func newReadyServer(t *testing.T, checks map[string]func(context.Context) error, metricsTokenRequired bool, logs *syncBuffer) *httpapi.Server {
	t.Helper()
	now := time.Now()
	return httpapi.New(httpapi.Params{
		Metrics: tprom.New(), ReadyChecks: checks, APIToken: readyToken, MaxBody: 64 << 10,
		MetricsTokenRequired: metricsTokenRequired,
		Logger:               slog.New(slog.NewJSONHandler(logs, nil)), Now: func() time.Time { return now },
	})
}

func TestReadyzNamesTheDependencyNotItsAddress(t *testing.T) {
	const detail = "dial tcp 10.20.30.40:5432: connect: connection refused"
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New(detail) }
	tests := []struct {
		name       string
		checks     map[string]func(context.Context) error
		wantStatus int
		want       map[string]any
	}{
		{
			name:       "all up",
			checks:     map[string]func(context.Context) error{"postgres": ok, "redis": ok},
			wantStatus: http.StatusOK,
			want:       map[string]any{"status": "ready", "checks": map[string]any{"postgres": "ok", "redis": "ok"}},
		},
		{
			name:       "postgres down",
			checks:     map[string]func(context.Context) error{"postgres": down, "redis": ok},
			wantStatus: http.StatusServiceUnavailable,
			want: map[string]any{
				"status": "unavailable", "checks": map[string]any{"postgres": "unreachable", "redis": "ok"},
				"error": map[string]any{"code": "unavailable", "message": "not ready: postgres unreachable"},
			},
		},
		{
			name:       "both down",
			checks:     map[string]func(context.Context) error{"postgres": down, "redis": down},
			wantStatus: http.StatusServiceUnavailable,
			want: map[string]any{
				"status": "unavailable", "checks": map[string]any{"postgres": "unreachable", "redis": "unreachable"},
				"error": map[string]any{"code": "unavailable", "message": "not ready: postgres, redis unreachable"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			s := newReadyServer(t, tt.checks, false, &logs)
			for range 3 { // a probe every few seconds during an outage
				resp, err := s.App().Test(httptest.NewRequest(http.MethodGet, "/readyz", nil), -1)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
				}
				if strings.Contains(string(raw), "10.20.30.40") {
					t.Errorf("/readyz shows the database address: %s", raw)
				}
				var got map[string]any
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatalf("%s: %v", raw, err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("/readyz (-want +got):\n%s", diff)
				}
			}
			if tt.wantStatus == http.StatusOK {
				return
			}
			// The detail is logged, once per check for the burst.
			for name, check := range tt.checks {
				lines := strings.Count(logs.String(), `"check":"`+name+`"`)
				if want := map[bool]int{true: 1, false: 0}[check(context.Background()) != nil]; lines != want {
					t.Errorf("%d log lines for check %s over 3 probes, want %d:\n%s", lines, name, want, logs.String())
				}
			}
			if !strings.Contains(logs.String(), detail) {
				t.Errorf("the log lacks the failure's detail %q:\n%s", detail, logs.String())
			}
		})
	}
}

func TestMetricsTokenRequired(t *testing.T) {
	tests := []struct {
		name     string
		required bool
		auth     string
		want     int
	}{
		{"open by default", false, "", http.StatusOK},
		{"required, no token", true, "", http.StatusUnauthorized},
		{"required, wrong token", true, "Bearer wrong-token-0123456", http.StatusUnauthorized},
		{"required, the API token", true, "Bearer " + readyToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			s := newReadyServer(t, nil, tt.required, &logs)
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := s.App().Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET /metrics = %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == http.StatusOK && !strings.Contains(string(body), "# HELP") {
				t.Errorf("GET /metrics body is not Prometheus text: %.200s", body)
			}
		})
	}
}
