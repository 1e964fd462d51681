package providerapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/providerapi"
	"github.com/tradewind/tradewind/domain"
)

// script answers each request with the next of its answers (status, headers,
// body), and the last one from then on; it records the requests' auth headers.
type script struct {
	mu      sync.Mutex
	answers []answer
	n       int
	auth    []string
}

type answer struct {
	status int
	header map[string]string
	body   string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.answers[min(s.n, len(s.answers)-1)]
	s.n++
	s.auth = append(s.auth, r.Header.Get("X-Token")+"|"+r.Header.Get("Accept"))
	s.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

func TestGet(t *testing.T) {
	t.Parallel()
	ok := answer{200, map[string]string{"Link": `<https://x/p?page_info=a>; rel="previous", <https://x/p?page_info=b>; rel="next"`}, `{"n":1}`}
	tests := []struct {
		name      string
		answers   []answer
		wantN     int
		wantNext  string
		wantCode  string // domain code of the error; "" for success
		wantSlept []time.Duration
		wantRetry []string // substrings of each OnRetry error
		wantTries int
	}{
		{name: "ok", answers: []answer{ok}, wantN: 1, wantNext: "https://x/p?page_info=b", wantTries: 1},
		{name: "no content", answers: []answer{{204, nil, ""}}, wantTries: 1},
		{name: "5xx retried with backoff", answers: []answer{{503, nil, ""}, {500, nil, ""}, ok}, wantN: 1, wantNext: "https://x/p?page_info=b",
			wantSlept: []time.Duration{500 * time.Millisecond, time.Second}, wantRetry: []string{"list page 2: try 1 of 3 failed, retried: HTTP 503", "try 2 of 3 failed, retried: HTTP 500"}, wantTries: 3},
		{name: "429 waits its Retry-After", answers: []answer{{429, map[string]string{"Retry-After": "2.0"}, ""}, ok}, wantN: 1, wantNext: "https://x/p?page_info=b",
			wantSlept: []time.Duration{2 * time.Second}, wantRetry: []string{"HTTP 429"}, wantTries: 2},
		{name: "429 without Retry-After waits a second", answers: []answer{{429, nil, ""}, ok}, wantN: 1, wantNext: "https://x/p?page_info=b",
			wantSlept: []time.Duration{time.Second}, wantRetry: []string{"HTTP 429"}, wantTries: 2},
		{name: "failing every try", answers: []answer{{500, nil, ""}}, wantCode: domain.EUNAVAILABLE,
			wantSlept: []time.Duration{500 * time.Millisecond, time.Second}, wantRetry: []string{"try 1", "try 2"}, wantTries: 3},
		{name: "not JSON is retried", answers: []answer{{200, nil, "<html>"}, ok}, wantN: 1, wantNext: "https://x/p?page_info=b",
			wantSlept: []time.Duration{500 * time.Millisecond}, wantRetry: []string{"response is not a test list"}, wantTries: 2},
		{name: "refused is not retried", answers: []answer{{401, nil, ""}}, wantCode: domain.EUNAUTHORIZED, wantTries: 1},
		{name: "404 is not retried", answers: []answer{{404, nil, ""}}, wantCode: domain.ENOTFOUND, wantTries: 1},
		{name: "other 4xx is not retried", answers: []answer{{400, nil, ""}}, wantCode: domain.EINVALID, wantTries: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &script{answers: tt.answers}
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			var slept []time.Duration
			var retried []string
			c := &providerapi.Client{
				HTTP: srv.Client(), Name: "test GET", Body: "a test list",
				Authorize:    func(r *http.Request) { r.Header.Set("X-Token", "tok") },
				Unauthorized: "the token was refused; give another", NotFound: true,
				Retry: providerapi.Retry{
					Sleep:   func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil },
					OnRetry: func(err error) { retried = append(retried, err.Error()) },
				},
			}
			var v struct{ N int }
			page, err := c.Get(context.Background(), srv.URL+"/list", "list page 2", &v)
			if code := domain.ErrorCode(err); (tt.wantCode == "" && err != nil) || (tt.wantCode != "" && code != tt.wantCode) {
				t.Fatalf("error %v (code %q); want code %q", err, code, tt.wantCode)
			}
			if v.N != tt.wantN || page.Next != tt.wantNext {
				t.Errorf("decoded %d, next %q; want %d, %q", v.N, page.Next, tt.wantN, tt.wantNext)
			}
			if diff := cmp.Diff(tt.wantSlept, slept); diff != "" {
				t.Errorf("slept (-want +got):\n%s", diff)
			}
			if len(retried) != len(tt.wantRetry) {
				t.Fatalf("retries %q; want %d", retried, len(tt.wantRetry))
			}
			for i, want := range tt.wantRetry {
				if !strings.Contains(retried[i], want) || !strings.HasPrefix(retried[i], "test GET ") {
					t.Errorf("retry %d: %q; want it to start with the client's name and name %q", i, retried[i], want)
				}
			}
			if s.n != tt.wantTries {
				t.Errorf("%d requests; want %d", s.n, tt.wantTries)
			}
			for _, a := range s.auth {
				if a != "tok|application/json" {
					t.Errorf("request headers X-Token|Accept %q; want tok|application/json", a)
				}
			}
		})
	}
}

// TestRefusals: a refusal names the client and the path, and says for a 401
// or 403 what to give instead, for a 404 of a lookup nothing more, and for any
// other the provider's message, read out of the body.
func TestRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		notFound bool
		want     string
		wantCode string
	}{
		{"401", 401, `{}`, false, "test GET /things: HTTP 401: the token was refused; give another", domain.EUNAUTHORIZED},
		{"403", 403, `{}`, false, "test GET /things: HTTP 403: the token was refused; give another", domain.EUNAUTHORIZED},
		{"404 of a lookup", 404, `{"msg":"gone"}`, true, "test GET /things: HTTP 404", domain.ENOTFOUND},
		{"404 of a listing", 404, `{"msg":"gone"}`, false, "test GET /things: HTTP 404: gone", domain.EINVALID},
		{"400 with a message", 400, `{"msg":"bad window"}`, false, "test GET /things: HTTP 400: bad window", domain.EINVALID},
		{"400 without one", 400, `<html>`, false, "test GET /things: HTTP 400: unexpected answer", domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(&script{answers: []answer{{tt.status, nil, tt.body}}})
			t.Cleanup(srv.Close)
			c := &providerapi.Client{HTTP: srv.Client(), Name: "test GET", Unauthorized: "the token was refused; give another", NotFound: tt.notFound,
				ErrorText: func(body []byte) string {
					var e struct{ Msg string }
					_ = json.Unmarshal(body, &e)
					return e.Msg
				}}
			var v any
			_, err := c.Get(context.Background(), srv.URL+"/things?page=2", "things page 2", &v)
			if err == nil || domain.ErrorMessage(err) != tt.want || domain.ErrorCode(err) != tt.wantCode {
				t.Errorf("error %v (code %q); want %q (%s)", err, domain.ErrorCode(err), tt.want, tt.wantCode)
			}
		})
	}
}

// TestGetEndsWithContext: a wait cut short by ctx ends the GET with ctx's error.
func TestGetEndsWithContext(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&script{answers: []answer{{429, map[string]string{"Retry-After": "30"}, ""}}})
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	c := &providerapi.Client{HTTP: srv.Client(), Name: "test GET",
		Retry: providerapi.Retry{Sleep: func(ctx context.Context, _ time.Duration) error { cancel(); <-ctx.Done(); return ctx.Err() }}}
	var v any
	if _, err := c.Get(ctx, srv.URL, "list", &v); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v; want context.Canceled", err)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"absent", "", time.Second},
		{"whole seconds", "3", 3 * time.Second},
		{"decimal seconds", "2.0", 2 * time.Second},
		{"zero is still a wait", "0", time.Millisecond},
		{"capped", "3600", providerapi.MaxRetryAfter},
		{"huge", "1e300", providerapi.MaxRetryAfter},
		{"negative", "-5", time.Second},
		{"not a number", "soon", time.Second},
		{"NaN", "NaN", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := providerapi.RetryAfter(tt.header); got != tt.want {
				t.Errorf("RetryAfter(%q) = %v; want %v", tt.header, got, tt.want)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, setting, def string
		want, wantErr      string
	}{
		{"default", "", "https://api.example.com", "https://api.example.com", ""},
		{"set, trailing slash trimmed", "http://127.0.0.1:9/v1/", "https://api.example.com", "http://127.0.0.1:9/v1", ""},
		{"not http", "ftp://x", "https://api.example.com", "", `source s: api_base_url: "ftp://x" is not an http(s) URL; leave it out`},
		{"no scheme", "api.example.com", "https://api.example.com", "", `source s: api_base_url: "api.example.com" is not an http(s) URL; leave it out`},
		{"neither set nor a default", "", "", "", `source s: api_base_url: "" is not an http(s) URL; leave it out`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := domain.Source{ID: "s", Settings: map[string]string{"api_base_url": tt.setting}}
			got, err := providerapi.BaseURL(src, tt.def, "leave it out")
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && (domain.ErrorMessage(err) != tt.wantErr || domain.ErrorCode(err) != domain.EINVALID)) {
				t.Errorf("BaseURL = %q, %v; want %q, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestHTTPClient(t *testing.T) {
	t.Parallel()
	if c := providerapi.HTTPClient(nil); c == nil || c.Timeout != providerapi.DefaultTimeout {
		t.Errorf("HTTPClient(nil) = %+v; want a client with a %v timeout", c, providerapi.DefaultTimeout)
	}
	hc := &http.Client{}
	if providerapi.HTTPClient(hc) != hc {
		t.Error("HTTPClient(hc) is not hc")
	}
}
