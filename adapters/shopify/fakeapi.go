package shopify

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tradewind/tradewind/adapters/providerapi"
)

// FakeAPI is a test double of the part of Shopify's REST Admin API the
// reconciliation lists: GET <base>/orders.json with status, updated_at_min,
// updated_at_max, since_id and limit, paged by Link rel="next" URLs carrying
// page_info (which, as on Shopify, may come with limit and fields only), and GET
// <base>/orders/{id}.json. Serve it with httptest on loopback under
// /admin/api/2024-10 (any prefix works). Faults can be injected: 429s with
// Retry-After, and pages that fail once.
type FakeAPI struct {
	// Token is the access token it accepts (any non-empty one when "").
	Token string

	mu       sync.Mutex
	orders   map[int64]fakeOrder
	faults   providerapi.Faults[int] // by page number
	requests int
}

type fakeOrder struct {
	ID        int64
	UpdatedAt time.Time
	Raw       json.RawMessage
}

// PutOrder adds or replaces an order (its JSON, with id and updated_at).
func (f *FakeAPI) PutOrder(raw json.RawMessage) {
	var h struct {
		ID        int64  `json:"id"`
		UpdatedAt string `json:"updated_at"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		panic(fmt.Sprintf("shopify fake: order: %v", err))
	}
	at, err := time.Parse(time.RFC3339, h.UpdatedAt)
	if err != nil {
		panic(fmt.Sprintf("shopify fake: order %d updated_at: %v", h.ID, err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.orders == nil {
		f.orders = map[int64]fakeOrder{}
	}
	f.orders[h.ID] = fakeOrder{ID: h.ID, UpdatedAt: at, Raw: raw}
}

// RateLimit answers the next n requests 429 with Retry-After: 2.0.
func (f *FakeAPI) RateLimit(n int) { f.faults.RateLimit(n) }

// FailOnce answers the next request for page n of the listing (1: the first)
// with a 500, once.
func (f *FakeAPI) FailOnce(n int) { f.faults.FailOnce(n) }

// Requests is how many requests it has answered.
func (f *FakeAPI) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// cursor is what a fake page_info carries: the first request's filters and
// where the next page starts.
type cursor struct {
	Min, Max string
	Status   string
	After    int64
	Page     int
}

// fakeErrors answers status with Shopify's error body, {"errors": v}.
func fakeErrors(w http.ResponseWriter, status int, v any) {
	providerapi.WriteJSON(w, status, map[string]any{"errors": v})
}

// ServeHTTP implements http.Handler.
func (f *FakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	w.Header().Set("Content-Type", "application/json; charset=utf-8") // as Shopify writes it
	tok := r.Header.Get("X-Shopify-Access-Token")
	if tok == "" || (f.Token != "" && tok != f.Token) {
		fakeErrors(w, http.StatusUnauthorized, "[API] Invalid API key or access token (unrecognized login or wrong password)")
		return
	}
	if f.faults.Limited() {
		w.Header().Set("Retry-After", "2.0")
		fakeErrors(w, http.StatusTooManyRequests, "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.")
		return
	}
	path := r.URL.Path
	if i := strings.LastIndex(path, "/orders/"); i >= 0 && strings.HasSuffix(path, ".json") {
		id, err := strconv.ParseInt(strings.TrimSuffix(path[i+len("/orders/"):], ".json"), 10, 64)
		o, ok := f.orders[id]
		if err != nil || !ok {
			fakeErrors(w, http.StatusNotFound, "Not Found")
			return
		}
		providerapi.WriteJSON(w, http.StatusOK, map[string]json.RawMessage{"order": o.Raw})
		return
	}
	if !strings.HasSuffix(path, "/orders.json") {
		fakeErrors(w, http.StatusNotFound, "Not Found")
		return
	}
	q := r.URL.Query()
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 250 {
			fakeErrors(w, http.StatusBadRequest, map[string][]string{"limit": {"must be between 1 and 250"}})
			return
		}
		limit = n
	}
	var c cursor
	if pi := q.Get("page_info"); pi != "" {
		for k := range q {
			if k != "page_info" && k != "limit" && k != "fields" {
				fakeErrors(w, http.StatusBadRequest, map[string]string{"page_info": "page_info - Cannot be combined with " + k})
				return
			}
		}
		b, err := base64.RawURLEncoding.DecodeString(pi)
		if err != nil || json.Unmarshal(b, &c) != nil {
			fakeErrors(w, http.StatusBadRequest, map[string]string{"page_info": "Invalid value."})
			return
		}
	} else {
		if q.Get("since_id") == "" {
			// Without since_id Shopify lists newest first; the reconciliation relies on id order.
			fakeErrors(w, http.StatusBadRequest, "this fake lists by id only: give since_id")
			return
		}
		after, err := strconv.ParseInt(q.Get("since_id"), 10, 64)
		if err != nil {
			fakeErrors(w, http.StatusBadRequest, map[string]string{"since_id": "expected Integer"})
			return
		}
		c = cursor{Min: q.Get("updated_at_min"), Max: q.Get("updated_at_max"), Status: cmp.Or(q.Get("status"), "open"), After: after, Page: 1}
	}
	if f.faults.Fails(c.Page) {
		fakeErrors(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	bound := func(s string, def time.Time) (time.Time, bool) {
		if s == "" {
			return def, true
		}
		t, err := time.Parse(time.RFC3339, s)
		return t, err == nil
	}
	lo, ok1 := bound(c.Min, time.Time{})
	hi, ok2 := bound(c.Max, time.Unix(1<<40, 0))
	if !ok1 || !ok2 {
		fakeErrors(w, http.StatusBadRequest, "updated_at_min/updated_at_max: not ISO 8601")
		return
	}
	var sel []fakeOrder
	for _, o := range f.orders {
		if o.ID > c.After && !o.UpdatedAt.Before(lo) && !o.UpdatedAt.After(hi) && c.Status == "any" {
			sel = append(sel, o)
		}
	}
	slices.SortFunc(sel, func(a, b fakeOrder) int { return cmp.Compare(a.ID, b.ID) })
	orders, more := providerapi.PageOf(sel, 0, limit, func(o fakeOrder) json.RawMessage { return o.Raw })
	if more {
		next := c
		next.After, next.Page = sel[limit-1].ID, c.Page+1
		b, _ := json.Marshal(next)
		u := "http://" + r.Host + path + "?limit=" + strconv.Itoa(limit) + "&page_info=" + base64.RawURLEncoding.EncodeToString(b)
		w.Header().Set("Link", `<`+u+`>; rel="next"`)
	}
	providerapi.WriteJSON(w, http.StatusOK, map[string]any{"orders": orders})
}
