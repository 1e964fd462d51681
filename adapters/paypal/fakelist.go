package paypal

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/tradewind/tradewind/adapters/providerapi"
	"github.com/tradewind/tradewind/adapters/webhook"
)

// fakeListPath is PayPal's event listing, which FakeAPI serves for the events
// added to it: start_time, end_time (RFC 3339, both inclusive), page_size
// (10 when absent, at most 300), newest first, paged by a HATEOAS link rel
// "next" written, as PayPal does, on its own host with move_to=next and an offset.
const fakeListPath = "/v1/notifications/webhooks-events"

// fakeListHost is the host FakeAPI writes into its next links: PayPal's
// sandbox, which a client must not call with the token it has for the fake.
const fakeListHost = "https://api-m.sandbox.paypal.com"

// RateLimit answers the next n list requests 429 with Retry-After: 0.
func (f *FakeAPI) RateLimit(n int) { f.faults.RateLimit(n) }

// FailOnce answers the next request for the list page starting at offset (0:
// the first page) with a 500, once.
func (f *FakeAPI) FailOnce(offset int) { f.faults.FailOnce(offset) }

// ListRequests is how many list requests it has answered.
func (f *FakeAPI) ListRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listed
}

// serveList answers GET /v1/notifications/webhooks-events (f.mu held). It
// reports whether r was that request.
func (f *FakeAPI) serveList(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet || r.URL.Path != fakeListPath {
		return false
	}
	if r.Header.Get("Authorization") != "Bearer "+fakeToken {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"name":"AUTHENTICATION_FAILURE","message":"Authentication failed due to invalid authentication credentials or a missing Authorization header."}`))
		return true
	}
	f.listed++
	if f.faults.Limited() {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"name":"RATE_LIMIT_REACHED","message":"Too many requests. Blocked due to rate limiting."}`))
		return true
	}
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	if f.faults.Fails(offset) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"name":"INTERNAL_SERVICE_ERROR","message":"An internal service error has occurred."}`))
		return true
	}
	bad := func(msg string) bool {
		providerapi.WriteJSON(w, http.StatusBadRequest, map[string]string{"name": "INVALID_REQUEST", "message": msg})
		return true
	}
	start, end := time.Time{}, time.Unix(1<<40, 0)
	var err error
	if v := q.Get("start_time"); v != "" {
		if start, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return bad("start_time is not an Internet date and time")
		}
	}
	if v := q.Get("end_time"); v != "" {
		if end, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return bad("end_time is not an Internet date and time")
		}
	}
	size := 10
	if v := q.Get("page_size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 300 {
			return bad("page_size must be from 1 to 300")
		}
	}
	type item struct {
		at   time.Time
		id   string
		body json.RawMessage
	}
	var sel []item
	for id, body := range f.events {
		e, err := decode(body)
		if err != nil {
			continue
		}
		at := webhook.ParseTime(e.CreateTime)
		if !at.Before(start) && !at.After(end) {
			sel = append(sel, item{at, id, body})
		}
	}
	// Newest first; PayPal orders ties its own way: here by id, descending.
	slices.SortFunc(sel, func(a, b item) int { return cmp.Or(b.at.Compare(a.at), cmp.Compare(b.id, a.id)) })
	events, more := providerapi.PageOf(sel, offset, size, func(it item) json.RawMessage { return it.body })
	self := url.Values{}
	for _, k := range []string{"start_time", "end_time", "page_size"} {
		if v := q.Get(k); v != "" {
			self.Set(k, v)
		}
	}
	links := []map[string]string{{"href": fakeListHost + fakeListPath + "?" + r.URL.RawQuery, "rel": "self", "method": "GET"}}
	if more {
		next := url.Values{}
		for k, v := range self {
			next[k] = v
		}
		next.Set("move_to", "next")
		next.Set("offset", strconv.Itoa(max(offset, 0)+len(events)))
		links = append(links, map[string]string{"href": fakeListHost + fakeListPath + "?" + next.Encode(), "rel": "next", "method": "GET"})
	}
	providerapi.WriteJSON(w, http.StatusOK, map[string]any{"events": events, "count": len(events), "links": links})
	return true
}
