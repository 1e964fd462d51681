// Package shopifytest is a fake Shopify Admin GraphQL API on loopback for stock
// pushes: productVariants by SKU (one, or several joined by OR, paged by
// first/after) with the available quantity at a location, and
// inventorySetQuantities with compareQuantity, answered in Shopify's published
// shapes (COMPARE_QUANTITY_STALE, THROTTLED with the cost extension).
package shopifytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

// Location is the fake store's one location.
const Location = "gid://shopify/Location/1"

// Store is the fake.
type Store struct {
	*httptest.Server
	Token string

	mu        sync.Mutex
	levels    map[string]int64 // available, by SKU
	items     map[string]string
	mutations int
	stale     int
	// Interfere is called before each mutation is applied: a concurrent change
	// in the store (a POS sale) to make the compare quantity stale.
	interfere func(sku string, level int64) int64
	throttle  int
	reads     int
}

// New starts a fake store with levels.
func New(token string, levels map[string]int64) *Store {
	s := &Store{Token: token, levels: map[string]int64{}, items: map[string]string{}}
	for sku, l := range levels {
		s.levels[sku] = l
		s.items["gid://shopify/InventoryItem/"+strconv.Itoa(len(s.items)+1)] = sku
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Interfere sets a hook changing a SKU's level just before a mutation lands.
func (s *Store) Interfere(f func(sku string, level int64) int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interfere = f
}

// Throttle makes the next n calls answer THROTTLED.
func (s *Store) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// Level returns a SKU's available quantity.
func (s *Store) Level(sku string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.levels[sku]
}

// SetLevel changes a SKU's available quantity in the store, as a person in the
// Shopify admin would, behind Tradewind's back.
func (s *Store) SetLevel(sku string, level int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.levels[sku] = level
}

// Reads returns how many productVariants queries the store answered.
func (s *Store) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// Mutations returns how many inventorySetQuantities calls were applied and how
// many were refused as stale.
func (s *Store) Mutations() (applied, stale int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mutations, s.stale
}

func (s *Store) itemOf(sku string) string {
	for id, x := range s.items {
		if x == sku {
			return id
		}
	}
	return ""
}

const cost = `"extensions":{"cost":{"requestedQueryCost":10,"actualQueryCost":10,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":%d,"restoreRate":100.0}}}`

func (s *Store) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/graphql.json") || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("X-Shopify-Access-Token") != s.Token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`)
		return
	}
	var req struct {
		Query     string          `json:"query"`
		Variables json.RawMessage `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if s.throttle > 0 {
		s.throttle--
		fmt.Fprintf(w, `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED","documentation":"https://shopify.dev/api/usage/rate-limits"}}],`+cost+`}`, 5)
		return
	}
	switch {
	case strings.Contains(req.Query, "productVariants"):
		var v struct {
			Q     string  `json:"q"`
			Loc   string  `json:"loc"`
			First int     `json:"first"`
			After *string `json:"after"`
		}
		_ = json.Unmarshal(req.Variables, &v)
		s.reads++
		// sku:"A" OR sku:"B" …, in the order asked; a page of First from the
		// cursor After (the index of the next variant).
		var nodes []any
		for _, term := range strings.Split(v.Q, " OR ") {
			sku, _ := strconv.Unquote(strings.TrimPrefix(term, "sku:"))
			if item := s.itemOf(sku); item != "" {
				var level any
				if v.Loc == Location {
					level = map[string]any{"quantities": []any{map[string]any{"name": "available", "quantity": s.levels[sku]}}}
				}
				nodes = append(nodes, map[string]any{"sku": sku, "inventoryItem": map[string]any{"id": item, "inventoryLevel": level}})
			}
		}
		from := 0
		if v.After != nil {
			from, _ = strconv.Atoi(*v.After)
		}
		from = min(from, len(nodes))
		to := len(nodes)
		if v.First > 0 {
			to = min(from+v.First, len(nodes))
		}
		page := map[string]any{"hasNextPage": to < len(nodes), "endCursor": strconv.Itoa(to)}
		data, _ := json.Marshal(map[string]any{"productVariants": map[string]any{"nodes": nodes[from:to], "pageInfo": page}})
		fmt.Fprintf(w, `{"data":%s,`+cost+`}`, data, 1990)
	case strings.Contains(req.Query, "inventorySetQuantities"):
		var v struct {
			Input struct {
				Name                  string `json:"name"`
				IgnoreCompareQuantity bool   `json:"ignoreCompareQuantity"`
				Quantities            []struct {
					InventoryItemID string `json:"inventoryItemId"`
					LocationID      string `json:"locationId"`
					Quantity        int64  `json:"quantity"`
					CompareQuantity *int64 `json:"compareQuantity"`
				} `json:"quantities"`
			} `json:"input"`
		}
		_ = json.Unmarshal(req.Variables, &v)
		var userErrors []any
		for i, q := range v.Input.Quantities {
			sku, ok := s.items[q.InventoryItemID]
			switch {
			case !ok:
				userErrors = append(userErrors, map[string]any{"field": []string{"input", "quantities", strconv.Itoa(i), "inventoryItemId"},
					"message": "The specified inventory item could not be found.", "code": "INVALID_INVENTORY_ITEM"})
				continue
			case q.CompareQuantity == nil && !v.Input.IgnoreCompareQuantity:
				userErrors = append(userErrors, map[string]any{"field": []string{"input", "quantities", strconv.Itoa(i), "compareQuantity"},
					"message": "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.", "code": "COMPARE_QUANTITY_REQUIRED"})
				continue
			}
			if s.interfere != nil {
				s.levels[sku] = s.interfere(sku, s.levels[sku])
			}
			if q.CompareQuantity != nil && *q.CompareQuantity != s.levels[sku] {
				s.stale++
				userErrors = append(userErrors, map[string]any{"field": []string{"input", "quantities", strconv.Itoa(i), "compareQuantity"},
					"message": "The compareQuantity value does not match persisted value.", "code": "COMPARE_QUANTITY_STALE"})
				continue
			}
			s.levels[sku] = q.Quantity
			s.mutations++
		}
		var group any
		if len(userErrors) == 0 {
			group = map[string]any{"id": "gid://shopify/InventoryAdjustmentGroup/1"}
		}
		data, _ := json.Marshal(map[string]any{"inventorySetQuantities": map[string]any{"inventoryAdjustmentGroup": group, "userErrors": userErrors}})
		fmt.Fprintf(w, `{"data":%s,`+cost+`}`, data, 1990)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"errors":[{"message":"unknown operation"}]}`)
	}
}
