package square

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tradewind/tradewind/adapters/providerapi"
	"github.com/tradewind/tradewind/adapters/webhook"
)

// FakeAPI is a test double of the part of Square's API the reconciliation
// lists: GET /v2/payments with begin_time (inclusive), end_time (exclusive),
// sort_order, limit (at most 100), location_id and cursor, in Square's
// {"payments","cursor"} answer. Serve it with httptest on loopback. Faults can
// be injected: 429s with Retry-After, and pages that fail once.
type FakeAPI struct {
	// Token is the access token it accepts (any non-empty one when "").
	Token string

	mu       sync.Mutex
	payments []fakePayment
	faults   providerapi.Faults[string] // by cursor ("" the first page)
	requests int
}

type fakePayment struct {
	id       string
	location string
	created  time.Time
	raw      json.RawMessage
}

// AddPayment adds a Square Payment object (its JSON, with id, created_at and
// location_id).
func (f *FakeAPI) AddPayment(raw json.RawMessage) {
	var p struct {
		ID         string `json:"id"`
		CreatedAt  string `json:"created_at"`
		LocationID string `json:"location_id"`
	}
	_ = json.Unmarshal(raw, &p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.payments = append(f.payments, fakePayment{id: p.ID, location: p.LocationID, created: webhook.ParseTime(p.CreatedAt), raw: raw})
}

// RateLimit answers the next n requests 429 with Retry-After: 0.
func (f *FakeAPI) RateLimit(n int) { f.faults.RateLimit(n) }

// FailOnce answers the next request for the page of cursor ("" for the first
// page; the fake's cursors are the offset in decimal) with a 500, once.
func (f *FakeAPI) FailOnce(cursor string) { f.faults.FailOnce(cursor) }

// Requests is how many requests it has answered.
func (f *FakeAPI) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// squareErrors answers status with Square's error body, {"errors": [{"category", "code", "detail"}]}.
func squareErrors(w http.ResponseWriter, status int, category, code, detail string) {
	providerapi.WriteJSON(w, status, map[string]any{"errors": []map[string]string{{"category": category, "code": code, "detail": detail}}})
}

// ServeHTTP implements http.Handler.
func (f *FakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" || (f.Token != "" && tok != f.Token) {
		squareErrors(w, http.StatusUnauthorized, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized.")
		return
	}
	if f.faults.Limited() {
		w.Header().Set("Retry-After", "0")
		squareErrors(w, http.StatusTooManyRequests, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limit exceeded.")
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/v2/payments" {
		squareErrors(w, http.StatusNotFound, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Resource not found.")
		return
	}
	q := r.URL.Query()
	cursor := q.Get("cursor")
	if f.faults.Fails(cursor) {
		squareErrors(w, http.StatusInternalServerError, "API_ERROR", "INTERNAL_SERVER_ERROR", "An internal error occurred.")
		return
	}
	begin, end := time.Time{}, time.Unix(1<<40, 0)
	var err error
	if v := q.Get("begin_time"); v != "" {
		if begin, err = time.Parse(time.RFC3339Nano, v); err != nil {
			squareErrors(w, http.StatusBadRequest, "INVALID_REQUEST_ERROR", "INVALID_TIME", "begin_time is not RFC 3339")
			return
		}
	}
	if v := q.Get("end_time"); v != "" {
		if end, err = time.Parse(time.RFC3339Nano, v); err != nil {
			squareErrors(w, http.StatusBadRequest, "INVALID_REQUEST_ERROR", "INVALID_TIME", "end_time is not RFC 3339")
			return
		}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 100 {
			squareErrors(w, http.StatusBadRequest, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "limit must be from 1 to 100")
			return
		}
	}
	var sel []fakePayment
	for _, p := range f.payments {
		if !p.created.Before(begin) && p.created.Before(end) && (q.Get("location_id") == "" || q.Get("location_id") == p.location) {
			sel = append(sel, p)
		}
	}
	desc := q.Get("sort_order") != "ASC"
	slices.SortFunc(sel, func(a, b fakePayment) int {
		c := cmp.Or(a.created.Compare(b.created), cmp.Compare(a.id, b.id))
		if desc {
			return -c
		}
		return c
	})
	from := 0
	if cursor != "" {
		if from, err = strconv.Atoi(cursor); err != nil || from < 0 {
			squareErrors(w, http.StatusBadRequest, "INVALID_REQUEST_ERROR", "INVALID_CURSOR", "The cursor is not valid.")
			return
		}
	}
	ps, more := providerapi.PageOf(sel, from, limit, func(p fakePayment) json.RawMessage { return p.raw })
	out := map[string]any{}
	if len(ps) > 0 {
		out["payments"] = ps // Square leaves out an empty list
	}
	if more {
		out["cursor"] = strconv.Itoa(from + len(ps))
	}
	providerapi.WriteJSON(w, http.StatusOK, out)
}
