package paypal

import (
	"net/http"
	"strings"
	"sync"

	"github.com/tradewind/tradewind/adapters/providerapi"
)

// FakeAPI is an in-memory PayPal REST API for tests: POST /v1/oauth2/token (client
// credentials over HTTP basic auth), GET /v1/notifications/webhooks-events/{id} for the
// events added to it and GET /v1/notifications/webhooks-events listing them (fakelist.go), on whatever listener it is mounted (httptest on loopback).
type FakeAPI struct {
	mu               sync.Mutex
	clientID, secret string
	events           map[string][]byte // by event id
	tokens, lookups  int
	down             bool
	faults           providerapi.Faults[int] // the listing's, by page offset (fakelist.go)
	listed           int                     // list requests answered
}

// fakeToken is the only access token FakeAPI issues.
const fakeToken = "A21AAFakeTradewindAccessToken"

// NewFakeAPI returns a fake API that accepts clientID and secret and knows no events.
func NewFakeAPI(clientID, secret string) *FakeAPI {
	return &FakeAPI{clientID: clientID, secret: secret, events: map[string][]byte{}}
}

// Add stores body (a webhook event) as PayPal's own copy of the event it names.
func (f *FakeAPI) Add(body []byte) error {
	e, err := decode(body)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events[e.ID] = append([]byte(nil), body...)
	return nil
}

// SetDown makes every request answer 503 (true) or be served again (false).
func (f *FakeAPI) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Calls returns how many tokens were issued and events looked up.
func (f *FakeAPI) Calls() (tokens, lookups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens, f.lookups
}

// ServeHTTP implements http.Handler.
func (f *FakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if f.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if f.serveList(w, r) {
		return
	}
	const eventsPath = "/v1/notifications/webhooks-events/"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/oauth2/token":
		id, secret, ok := r.BasicAuth()
		if !ok || id != f.clientID || secret != f.secret || r.FormValue("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"Client Authentication failed"}`))
			return
		}
		f.tokens++
		providerapi.WriteJSON(w, http.StatusOK, map[string]any{"scope": "https://uri.paypal.com/services/applications/webhooks",
			"access_token": fakeToken, "token_type": "Bearer", "app_id": "APP-80W284485P519543T", "expires_in": 32400, "nonce": "fake"})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, eventsPath):
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.lookups++
		body, ok := f.events[strings.TrimPrefix(r.URL.Path, eventsPath)]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"name":"INVALID_RESOURCE_ID","message":"Requested resource ID was not found."}`))
			return
		}
		_, _ = w.Write(body)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}
