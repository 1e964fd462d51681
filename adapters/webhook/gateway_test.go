package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

func TestPostToGateway(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		wantCode string // "" when the status is handed back
	}{
		{"ok", http.StatusOK, ""},
		{"refusal is the caller's", http.StatusUnauthorized, ""},
		{"rate limited", http.StatusTooManyRequests, domain.EUNAVAILABLE},
		{"server error", http.StatusBadGateway, domain.EUNAVAILABLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if r.Method != http.MethodPost || r.URL.Path != "/api/pay" || r.Header.Get("X-Gateway-Key") != "k" || string(b) != "q=1" {
					http.Error(w, "unexpected request", http.StatusTeapot)
					return
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, "answer")
			}))
			defer srv.Close()
			status, body, err := webhook.PostToGateway(context.Background(), nil, "Gw", srv.URL+"/", "/api/pay", http.Header{"X-Gateway-Key": {"k"}}, []byte("q=1"))
			if got := domain.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("err = %v, want code %q", err, tt.wantCode)
			}
			if tt.wantCode == "" && (status != tt.status || string(body) != "answer") {
				t.Errorf("got %d %q, want %d %q", status, body, tt.status, "answer")
			}
		})
	}
}

func TestPostToGatewayUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, _, err := webhook.PostToGateway(context.Background(), nil, "Gw", srv.URL, "/api/pay", nil, nil)
	if domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Fatalf("err = %v, want %s", err, domain.EUNAVAILABLE)
	}
}

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"https", "https://gw.example", ""},
		{"http", "http://127.0.0.1:8080", ""},
		{"missing", "", domain.EINVALID},
		{"relative", "gw.example", domain.EINVALID},
		{"other scheme", "ftp://gw.example", domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.CheckBaseURL(domain.Source{Settings: map[string]string{"api_base_url": tt.url}}, "api_base_url", "gw", "the API root")
			if got := domain.ErrorCode(err); got != tt.want {
				t.Errorf("CheckBaseURL(%q) = %v, want code %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestSettingOrSecret(t *testing.T) {
	tests := []struct {
		name string
		src  domain.Source
		want string
	}{
		{"setting", domain.Source{Settings: map[string]string{"pw": "s"}, Secrets: []string{"x"}}, "s"},
		{"first secret", domain.Source{Secrets: []string{"x", "y"}}, "x"},
		{"neither", domain.Source{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webhook.SettingOrSecret(tt.src, "pw"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Time
	}{
		{"offset to UTC", "2024-05-01T12:00:00+02:00", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"fraction", "2024-05-01T10:00:00.250Z", time.Date(2024, 5, 1, 10, 0, 0, 250e6, time.UTC)},
		{"empty", "", time.Time{}},
		{"malformed", "yesterday", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webhook.ParseTime(tt.in); !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodeJSONKeepsNumbers(t *testing.T) {
	var v map[string]any
	if err := webhook.DecodeJSON([]byte(`{"amount": 12345678901234567.89}`), &v); err != nil {
		t.Fatal(err)
	}
	if got := v["amount"]; got != any(json.Number("12345678901234567.89")) {
		t.Errorf("amount = %#v, want the number's exact text", got)
	}
}
