package providerapi

import (
	"encoding/json"
	"net/http"
	"sync"
)

// Faults are the faults a fake provider API injects into its listing, for the
// clients' retries to meet: the next n requests answered 429, and the next
// request for a given page (a K: its number, cursor or offset) answered 500,
// once. The zero value injects none; its methods are safe for concurrent use.
type Faults[K comparable] struct {
	mu       sync.Mutex
	limited  int
	failOnce map[K]bool
}

// RateLimit has the next n requests answered 429.
func (f *Faults[K]) RateLimit(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limited = n
}

// FailOnce has the next request for page answered 500, once.
func (f *Faults[K]) FailOnce(page K) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failOnce == nil {
		f.failOnce = map[K]bool{}
	}
	f.failOnce[page] = true
}

// Limited reports whether this request is one RateLimit asked to answer 429,
// and counts it.
func (f *Faults[K]) Limited() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limited <= 0 {
		return false
	}
	f.limited--
	return true
}

// Fails reports whether this request, for page, is the one FailOnce asked to
// answer 500; it is only once.
func (f *Faults[K]) Fails(page K) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failOnce[page] {
		return false
	}
	delete(f.failOnce, page)
	return true
}

// WriteJSON answers status with v as JSON. The Content-Type is
// application/json unless the fake set its own (Shopify's names a charset).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// PageOf is the page of items that starts at offset and holds at most limit of
// them (fewer at the end of the list; none past it), each as show writes it,
// and whether more items follow. It is never nil: an empty page is the JSON
// [] that APIs answer, not null.
func PageOf[T, U any](items []T, offset, limit int, show func(T) U) (page []U, more bool) {
	from := min(max(offset, 0), len(items))
	to := from + min(max(limit, 0), len(items)-from)
	page = make([]U, 0, to-from)
	for _, it := range items[from:to] {
		page = append(page, show(it))
	}
	return page, to < len(items)
}
