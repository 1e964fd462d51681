package bigcommerce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tradewind/tradewind/adapters/providerapi"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// FakeOrder is an order a FakeStore holds.
type FakeOrder struct {
	ID         int64
	StatusID   int // v2 status_id; 0 means 11 (Awaiting Fulfillment)
	CustomerID int64
	Currency   string // ISO 4217; empty means USD
	Lines      []FakeLine
	Modified   time.Time // date_modified (whole seconds); zero means when PutOrder was called
	// Transactions and Refunds are listed by /v3/orders/{id}/transactions and
	// /v3/orders/{id}/payment_actions/refunds.
	Transactions []FakeTransaction
	Refunds      []FakeRefund
}

// FakeTransaction is one v3 order transaction.
type FakeTransaction struct {
	ID     int64
	Event  string // purchase, authorization, capture, refund, void, …
	Status string // ok (the default) or error
	Amount int64  // minor units of the order's currency
}

// FakeRefund is one v3 order refund, paid back through one payment.
type FakeRefund struct {
	ID       int64
	Amount   int64 // minor units of the order's currency
	Declined bool
	Reason   string
}

// FakeLine is one line of a FakeOrder.
type FakeLine struct {
	ProductID, VariantID int64
	SKU                  string
	Quantity             int64
	UnitPrice            int64 // minor units, before tax
}

// FakeVariant is a catalog variant (VariantID 0: a product without variants) a FakeStore holds.
type FakeVariant struct {
	ProductID, VariantID int64
	SKU                  string
	InventoryLevel       int64
}

// FakeStore is an in-memory BigCommerce store API for tests and `tradewind simulate`
// (which serves it on loopback for the demo source): it answers the calls Fetch makes —
// GET /stores/{store_hash}/v2/orders/{id}, …/v2/orders/{id}/products and
// …/v3/catalog/products/{product_id}[/variants/{variant_id}] — and the reconciliation's
// listing, GET …/v2/orders (min/max_date_modified, min_id, sort=id:asc, limit, page;
// 204 when nothing matches), for the orders and variants put into it, on whatever
// listener it is mounted, for any store hash. Faults can be injected into the listing:
// 429s (RateLimit) and requests that fail once (FailListing).
type FakeStore struct {
	mu       sync.Mutex
	orders   map[int64]FakeOrder
	variants map[[2]int64]FakeVariant // by product id, variant id
	hash     string
	token    string
	down     bool
	calls    int
	served   int
	// listings counts the listing requests; faults fail them by ordinal.
	listings int
	faults   providerapi.Faults[int]
}

// NewFakeStore returns an empty fake store that accepts any store hash and access token.
func NewFakeStore() *FakeStore {
	return &FakeStore{orders: map[int64]FakeOrder{}, variants: map[[2]int64]FakeVariant{}}
}

// PutOrder adds or replaces an order.
func (s *FakeStore) PutOrder(o FakeOrder) {
	if o.StatusID == 0 {
		o.StatusID = 11
	}
	if o.Currency == "" {
		o.Currency = "USD"
	}
	if o.Modified.IsZero() {
		o.Modified = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.ID] = o
}

// DeleteOrder removes an order: the store answers 404 for it from then on.
func (s *FakeStore) DeleteOrder(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.orders, id)
}

// PutVariant adds or replaces a variant (or, with VariantID 0, a product).
func (s *FakeStore) PutVariant(v FakeVariant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.variants[[2]int64{v.ProductID, v.VariantID}] = v
}

// AddSample puts into the store what a delivery built by Sample (body) with options o
// names, so that Fetch completes it: for an order scope, order data.id with one line of
// o.SKU × o.Quantity at o.Amount (defaults SKU-1, 1, 2500 USD), Awaiting Fulfillment,
// modified at o.Now; for store/sku/inventory/updated, the variant with o.SKU and the
// inventory level the payload states.
func (s *FakeStore) AddSample(body []byte, o webhook.SampleOptions) error {
	p, err := decode(body)
	if err != nil {
		return err
	}
	o.FillDefaults()
	if p.Scope == ScopeSKUInventoryUpdated {
		inv := p.Data.Inventory
		if inv == nil {
			return webhook.Invalid("%s: data.inventory is missing", p.Scope)
		}
		s.PutVariant(FakeVariant{ProductID: inv.ProductID, VariantID: inv.VariantID, SKU: o.SKU, InventoryLevel: inv.Value})
		return nil
	}
	id, err := p.id()
	if err != nil {
		return err
	}
	s.PutOrder(FakeOrder{
		ID: id, CustomerID: 11, Currency: strings.ToUpper(o.Currency), Modified: o.Now,
		Lines: []FakeLine{{ProductID: 206, VariantID: 509, SKU: o.SKU, Quantity: o.Quantity, UnitPrice: o.Amount}},
	})
	return nil
}

// RequireCredentials makes the store answer 404 for another store hash and 401 unless
// X-Auth-Token is accessToken.
func (s *FakeStore) RequireCredentials(storeHash, accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hash, s.token = storeHash, accessToken
}

// SetDown makes the store answer 503 to everything while down is true.
func (s *FakeStore) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// RateLimit answers the next n requests 429 with X-Rate-Limit-Time-Reset-Ms: 2000
// (no Retry-After), as BigCommerce does when the store's quota is spent.
func (s *FakeStore) RateLimit(n int) { s.faults.RateLimit(n) }

// FailListing answers the n-th listing request (GET …/v2/orders, counted from the
// store's start, 1-based, 429s included) with a 500.
func (s *FakeStore) FailListing(n int) { s.faults.FailOnce(n) }

// Calls is the number of requests the store answered.
func (s *FakeStore) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Served is the number of Fetches the store has answered to their end: with an order's
// last page of products, a variant or product, or 404 for one it does not hold. Each
// delivery the worker fetched counts one.
func (s *FakeStore) Served() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served
}

// ServeHTTP implements http.Handler.
func (s *FakeStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) < 4 || parts[0] != "stores" || (s.hash != "" && parts[1] != s.hash) {
		notFound(w)
		return
	}
	if s.token != "" && r.Header.Get("X-Auth-Token") != s.token {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"status":401,"title":"You don't have a valid access token"}`)
		return
	}
	ids := func(ps []string) ([]int64, bool) {
		out := make([]int64, len(ps))
		for i, p := range ps {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return nil, false
			}
			out[i] = n
		}
		return out, true
	}
	rest := parts[2:]
	if len(rest) == 2 && rest[0] == "v2" && rest[1] == "orders" {
		s.listings++
		if s.faults.Fails(s.listings) {
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
	}
	if s.faults.Limited() {
		w.Header().Set("X-Rate-Limit-Time-Reset-Ms", "2000")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	switch {
	case len(rest) == 2 && rest[0] == "v2" && rest[1] == "orders":
		s.list(w, r)
	case len(rest) >= 3 && rest[0] == "v2" && rest[1] == "orders":
		n, ok := ids(rest[2:3])
		if !ok {
			notFound(w)
			return
		}
		o, found := s.orders[n[0]]
		if !found {
			s.served++ // Fetch ends here: the order does not exist
			notFound(w)
			return
		}
		switch {
		case len(rest) == 3:
			writeJSON(w, v2Order(o))
		case len(rest) == 4 && rest[3] == "products":
			lines := v2Products(o)
			limit, page := queryInt(r, "limit", 50), queryInt(r, "page", 1)
			from := min((page-1)*limit, len(lines))
			lines = lines[from:min(from+limit, len(lines))]
			if len(lines) < limit {
				s.served++ // the last page: Fetch has the whole order
			}
			if len(lines) == 0 {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			writeJSON(w, lines)
		default:
			notFound(w)
		}
	case len(rest) >= 4 && rest[0] == "v3" && rest[1] == "orders":
		n, ok := ids(rest[2:3])
		if !ok {
			notFound(w)
			return
		}
		o, found := s.orders[n[0]]
		s.served++ // Fetch ends here, with the order's list or with 404
		if !found {
			notFound(w)
			return
		}
		switch {
		case len(rest) == 4 && rest[3] == "transactions":
			writeJSON(w, map[string]any{"data": v3Transactions(o), "meta": map[string]any{}})
		case len(rest) == 5 && rest[3] == "payment_actions" && rest[4] == "refunds":
			writeJSON(w, map[string]any{"data": v3Refunds(o), "meta": map[string]any{}})
		default:
			notFound(w)
		}
	case len(rest) >= 4 && rest[0] == "v3" && rest[1] == "catalog" && rest[2] == "products":
		var key [2]int64
		switch {
		case len(rest) == 4:
			n, ok := ids(rest[3:4])
			if !ok {
				notFound(w)
				return
			}
			key = [2]int64{n[0], 0}
		case len(rest) == 6 && rest[4] == "variants":
			n, ok := ids([]string{rest[3], rest[5]})
			if !ok {
				notFound(w)
				return
			}
			key = [2]int64{n[0], n[1]}
		default:
			notFound(w)
			return
		}
		v, found := s.variants[key]
		s.served++ // Fetch ends here, with the variant or with 404
		if !found {
			notFound(w)
			return
		}
		data := map[string]any{"id": v.VariantID, "product_id": v.ProductID, "sku": v.SKU, "inventory_level": v.InventoryLevel}
		if v.VariantID == 0 {
			data = map[string]any{"id": v.ProductID, "sku": v.SKU, "inventory_level": v.InventoryLevel, "inventory_tracking": "product"}
		}
		writeJSON(w, map[string]any{"data": data, "meta": map[string]any{}})
	default:
		notFound(w)
	}
}

// list answers GET …/v2/orders: the orders modified in [min_date_modified,
// max_date_modified] (RFC 2822 or ISO 8601) with an id of at least min_id, by id
// ascending (the only sort it knows), limit (default 50, at most 250) per page; 204
// No Content when the page is empty. Called with s.mu held.
func (s *FakeStore) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bound := func(key string) (time.Time, bool) {
		v := q.Get(key)
		if v == "" {
			return time.Time{}, true
		}
		for _, layout := range []string{time.RFC3339, time.RFC1123Z} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	}
	from, ok1 := bound("min_date_modified")
	to, ok2 := bound("max_date_modified")
	if !ok1 || !ok2 || (q.Get("sort") != "" && q.Get("sort") != "id:asc") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `[{"status":400,"message":"The filter or sort is invalid."}]`)
		return
	}
	minID := int64(queryInt(r, "min_id", 0))
	var ids []int64
	for id, o := range s.orders {
		m := o.Modified.Truncate(time.Second)
		if id >= minID && (from.IsZero() || !m.Before(from)) && (to.IsZero() || !m.After(to)) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	limit, page := min(queryInt(r, "limit", 50), 250), queryInt(r, "page", 1)
	out, _ := providerapi.PageOf(ids, (page-1)*limit, limit, func(id int64) map[string]any { return v2Order(s.orders[id]) })
	if len(out) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, out)
}

var statusNames = map[int]string{
	0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded", 5: "Cancelled", 6: "Declined",
	7: "Awaiting Payment", 8: "Awaiting Pickup", 9: "Awaiting Shipment", 10: "Completed", 11: "Awaiting Fulfillment",
	12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded",
}

func v2Order(o FakeOrder) map[string]any {
	var total, items int64
	for _, l := range o.Lines {
		total += l.Quantity * l.UnitPrice
		items += l.Quantity
	}
	m := func(v int64) string { return decimal4(v, o.Currency) }
	return map[string]any{
		"id": o.ID, "customer_id": o.CustomerID, "date_modified": o.Modified.UTC().Format(time.RFC1123Z),
		"date_created": o.Modified.UTC().Format(time.RFC1123Z), "status_id": o.StatusID, "status": statusNames[o.StatusID],
		"subtotal_ex_tax": m(total), "subtotal_inc_tax": m(total), "total_ex_tax": m(total), "total_inc_tax": m(total),
		"total_tax": m(0), "items_total": items, "currency_code": o.Currency, "default_currency_code": o.Currency,
		"payment_method": "Simulated", "order_source": "www",
	}
}

func v2Products(o FakeOrder) []map[string]any {
	out := make([]map[string]any, len(o.Lines))
	for i, l := range o.Lines {
		out[i] = map[string]any{
			"id": int64(i + 1), "order_id": o.ID, "product_id": l.ProductID, "variant_id": l.VariantID, "name": "Simulated product",
			"sku": l.SKU, "type": "physical", "quantity": l.Quantity, "base_price": decimal4(l.UnitPrice, o.Currency),
			"price_ex_tax": decimal4(l.UnitPrice, o.Currency), "price_inc_tax": decimal4(l.UnitPrice, o.Currency),
			"total_ex_tax": decimal4(l.UnitPrice*l.Quantity, o.Currency), "total_inc_tax": decimal4(l.UnitPrice*l.Quantity, o.Currency),
		}
	}
	return out
}

func v3Transactions(o FakeOrder) []map[string]any {
	out := []map[string]any{}
	for _, tx := range o.Transactions {
		status := tx.Status
		if status == "" {
			status = "ok"
		}
		out = append(out, map[string]any{
			"id": tx.ID, "order_id": strconv.FormatInt(o.ID, 10), "event": tx.Event, "method": "credit_card",
			"amount": json.Number(decimal(tx.Amount, o.Currency)), "currency": o.Currency, "gateway": "simulated",
			"status": status, "test": true, "date_created": o.Modified.UTC().Format(time.RFC3339),
		})
	}
	return out
}

func v3Refunds(o FakeOrder) []map[string]any {
	out := []map[string]any{}
	for _, r := range o.Refunds {
		amount := json.Number(decimal(r.Amount, o.Currency))
		out = append(out, map[string]any{
			"id": r.ID, "order_id": o.ID, "created": o.Modified.UTC().Format(time.RFC3339), "reason": r.Reason,
			"total_amount": amount, "payments": []any{map[string]any{"id": r.ID, "provider_id": "simulated", "amount": amount,
				"offline": false, "is_declined": r.Declined}},
		})
	}
	return out
}

// decimal writes minor units of currency as a plain decimal number ("25.00"), as v3
// writes amounts.
func decimal(minor int64, currency string) string {
	s, exp := decimal4(minor, currency), domain.CurrencyExponent(currency)
	if exp == 0 {
		return s[:len(s)-5] // "2500.0000" → "2500"
	}
	return s[:len(s)-4+exp]
}

// decimal4 writes minor units of currency as v2's four-place decimal string ("25.0000").
func decimal4(minor int64, currency string) string {
	exp := domain.CurrencyExponent(currency)
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	s := fmt.Sprintf("%0*d", exp+1, minor)
	whole, frac := s[:len(s)-exp], s[len(s)-exp:]
	return sign + whole + "." + (frac + "0000")[:max(4, exp)]
}

// queryInt reads a positive integer query parameter, def when absent or invalid.
func queryInt(r *http.Request, key string, def int) int {
	if n, err := strconv.Atoi(r.URL.Query().Get(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, v any) { providerapi.WriteJSON(w, http.StatusOK, v) }

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprint(w, `{"status":404,"title":"The requested resource was not found"}`)
}

// NewFakeAPI implements webhook.FakeAPISimulator: `tradewind simulate` serves a
// FakeStore holding the orders and variants of the deliveries it sends.
func (Provider) NewFakeAPI() webhook.FakeAPI { return simulatedStore{NewFakeStore()} }

// simulatedStore is a FakeStore as `tradewind simulate` drives it.
type simulatedStore struct{ *FakeStore }

func (s simulatedStore) Prepare(body []byte, o webhook.SampleOptions) error {
	return s.AddSample(body, o)
}
func (s simulatedStore) RequireSource(src domain.Source) {
	s.RequireCredentials(src.Settings["store_hash"], src.Settings["access_token"])
}
