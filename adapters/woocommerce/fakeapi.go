package woocommerce

import (
	"cmp"
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

// FakeAPI is a test double of the part of WooCommerce's REST API v3 the
// reconciliation lists: GET /wp-json/wc/v3/orders with modified_after,
// modified_before (dates_are_gmt), orderby=id, order=asc, per_page and page
// (X-WP-Total and X-WP-TotalPages headers), and GET /wp-json/wc/v3/orders/{id},
// behind HTTP Basic auth. Serve it with httptest on loopback. Faults can be
// injected: 429s with Retry-After, and pages that fail once.
type FakeAPI struct {
	Key, Secret string

	mu     sync.Mutex
	orders map[int64]fakeOrder
	faults providerapi.Faults[int] // by page number
}

type fakeOrder struct {
	ID       int64
	Modified time.Time
	Raw      json.RawMessage
}

// PutOrder adds or replaces an order (its JSON, with id and date_modified_gmt).
func (f *FakeAPI) PutOrder(raw json.RawMessage) {
	id, at, err := ListedHead(raw)
	if err != nil {
		panic(fmt.Sprintf("woocommerce fake: %v", err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.orders == nil {
		f.orders = map[int64]fakeOrder{}
	}
	f.orders[id] = fakeOrder{ID: id, Modified: at, Raw: raw}
}

// RateLimit answers the next n requests 429 with Retry-After: 1.
func (f *FakeAPI) RateLimit(n int) { f.faults.RateLimit(n) }

// FailOnce answers the next request for page n of the listing with a 500, once.
func (f *FakeAPI) FailOnce(n int) { f.faults.FailOnce(n) }

// wcError answers status with WooCommerce's error body, {"code", "message", "data": {"status"}}.
func wcError(w http.ResponseWriter, status int, code, msg string) {
	providerapi.WriteJSON(w, status, map[string]any{"code": code, "message": msg, "data": map[string]int{"status": status}})
}

// ServeHTTP implements http.Handler.
func (f *FakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8") // as WordPress writes it
	if k, s, ok := r.BasicAuth(); !ok || k != f.Key || s != f.Secret {
		wcError(w, http.StatusUnauthorized, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
		return
	}
	if f.faults.Limited() {
		w.Header().Set("Retry-After", "1")
		wcError(w, http.StatusTooManyRequests, "too_many_requests", "Too many requests.")
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/wp-json/wc/v3/orders/"); ok {
		id, _ := strconv.ParseInt(rest, 10, 64)
		o, found := f.orders[id]
		if !found {
			wcError(w, http.StatusNotFound, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
			return
		}
		providerapi.WriteJSON(w, http.StatusOK, o.Raw)
		return
	}
	if r.URL.Path != "/wp-json/wc/v3/orders" {
		wcError(w, http.StatusNotFound, "rest_no_route", "No route was found matching the URL and request method.")
		return
	}
	q := r.URL.Query()
	if q.Get("orderby") != "id" || q.Get("order") != "asc" || q.Get("dates_are_gmt") != "true" || q.Get("status") != "any" {
		wcError(w, http.StatusBadRequest, "rest_invalid_param", "this fake lists with orderby=id, order=asc, dates_are_gmt=true, status=any only")
		return
	}
	page, _ := strconv.Atoi(cmp.Or(q.Get("page"), "1"))
	per, _ := strconv.Atoi(cmp.Or(q.Get("per_page"), "10"))
	if page < 1 || per < 1 || per > 100 {
		wcError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): page, per_page")
		return
	}
	if f.faults.Fails(page) {
		wcError(w, http.StatusInternalServerError, "internal_server_error", "There has been a critical error on this website.")
		return
	}
	after, err1 := time.ParseInLocation(gmt, q.Get("modified_after"), time.UTC)
	before, err2 := time.ParseInLocation(gmt, q.Get("modified_before"), time.UTC)
	if err1 != nil || err2 != nil {
		wcError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): modified_after, modified_before")
		return
	}
	var sel []fakeOrder
	for _, o := range f.orders {
		if o.Modified.After(after) && o.Modified.Before(before) {
			sel = append(sel, o)
		}
	}
	slices.SortFunc(sel, func(a, b fakeOrder) int { return cmp.Compare(a.ID, b.ID) })
	pages := (len(sel) + per - 1) / per
	w.Header().Set("X-WP-Total", strconv.Itoa(len(sel)))
	w.Header().Set("X-WP-TotalPages", strconv.Itoa(pages))
	out, _ := providerapi.PageOf(sel, (page-1)*per, per, func(o fakeOrder) json.RawMessage { return o.Raw })
	providerapi.WriteJSON(w, http.StatusOK, out)
}
