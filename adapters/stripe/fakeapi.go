package stripe

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tradewind/tradewind/adapters/providerapi"
)

// FakeAPI is a test double of the part of Stripe's REST API the reconciliation
// lists: GET /v1/events and GET /v1/payment_intents with created[gte],
// created[lte], types[], limit and starting_after, newest first, in Stripe's
// list envelope. Serve it with httptest on loopback. Faults can be injected:
// 429s with Retry-After, and pages that fail once.
type FakeAPI struct {
	// Key is the API key it accepts (any non-empty one when "").
	Key string

	mu       sync.Mutex
	events   []fakeItem
	intents  []fakeItem
	faults   providerapi.Faults[string] // by "path|starting_after"
	requests int
}

type fakeItem struct {
	ID      string
	Type    string
	Created int64
	Raw     json.RawMessage
}

// AddEvent adds a Stripe event (its JSON, with id, type and created).
func (f *FakeAPI) AddEvent(raw json.RawMessage) { f.add(&f.events, raw) }

// AddIntent adds a payment intent (its JSON, with id and created; latest_charge
// expanded or not, as it should be listed).
func (f *FakeAPI) AddIntent(raw json.RawMessage) { f.add(&f.intents, raw) }

func (f *FakeAPI) add(to *[]fakeItem, raw json.RawMessage) {
	var h struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created int64  `json:"created"`
	}
	_ = json.Unmarshal(raw, &h)
	f.mu.Lock()
	defer f.mu.Unlock()
	*to = append(*to, fakeItem{ID: h.ID, Type: h.Type, Created: h.Created, Raw: raw})
}

// RateLimit answers the next n requests 429 with Retry-After: 0.
func (f *FakeAPI) RateLimit(n int) { f.faults.RateLimit(n) }

// FailOnce answers the next request for path's page after item id startingAfter
// ("" for the first page) with a 500, once.
func (f *FakeAPI) FailOnce(path, startingAfter string) { f.faults.FailOnce(path + "|" + startingAfter) }

// Requests is how many requests it has answered.
func (f *FakeAPI) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// fakeError answers status with Stripe's error body, {"error": {"type", "message"}}.
func fakeError(w http.ResponseWriter, status int, typ, msg string) {
	providerapi.WriteJSON(w, status, map[string]any{"error": map[string]string{"type": typ, "message": msg}})
}

// ServeHTTP implements http.Handler.
func (f *FakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" || (f.Key != "" && key != f.Key) {
		fakeError(w, http.StatusUnauthorized, "invalid_request_error", "Invalid API Key provided")
		return
	}
	if f.faults.Limited() {
		w.Header().Set("Retry-After", "0")
		fakeError(w, http.StatusTooManyRequests, "rate_limit_error", "Too many requests")
		return
	}
	q := r.URL.Query()
	after := q.Get("starting_after")
	if f.faults.Fails(r.URL.Path + "|" + after) {
		fakeError(w, http.StatusInternalServerError, "api_error", "internal error")
		return
	}
	var items []fakeItem
	switch r.URL.Path {
	case "/v1/events":
		items = f.events
	case "/v1/payment_intents":
		items = f.intents
	default:
		fakeError(w, http.StatusNotFound, "invalid_request_error", "Unrecognized request URL (GET: "+r.URL.Path+")")
		return
	}
	gte, _ := strconv.ParseInt(q.Get("created[gte]"), 10, 64)
	lte, err := strconv.ParseInt(q.Get("created[lte]"), 10, 64)
	if err != nil {
		lte = 1 << 62
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 || limit > 100 {
		limit = 10
	}
	types := q["types[]"]
	var sel []fakeItem
	for _, it := range items {
		if it.Created >= gte && it.Created <= lte && (len(types) == 0 || slices.Contains(types, it.Type)) {
			sel = append(sel, it)
		}
	}
	// Newest first; Stripe orders ties by something of its own: here by id, descending.
	slices.SortFunc(sel, func(a, b fakeItem) int { return cmp.Or(cmp.Compare(b.Created, a.Created), cmp.Compare(b.ID, a.ID)) })
	start := 0
	if after != "" {
		i := slices.IndexFunc(sel, func(it fakeItem) bool { return it.ID == after })
		if i < 0 {
			fakeError(w, http.StatusBadRequest, "invalid_request_error", "No such object: '"+after+"'")
			return
		}
		start = i + 1
	}
	data, more := providerapi.PageOf(sel, start, limit, func(it fakeItem) json.RawMessage { return it.Raw })
	providerapi.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "has_more": more, "url": r.URL.Path})
}
