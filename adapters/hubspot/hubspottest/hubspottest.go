// Package hubspottest is a fake HubSpot CRM on loopback, answering the v3 batch
// upsert endpoints with HubSpot's published request and response shapes
// (developers.hubspot.com, "Upsert a batch of contacts"/deals): records keyed by
// their idProperty, 429 with the X-HubSpot-RateLimit headers when its
// per-10-seconds budget is spent.
package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/tradewind/tradewind/adapters/hubspot"
)

// Server is the fake.
type Server struct {
	*httptest.Server
	Token string
	// Budget is requests per 10-second window (0: unlimited); Now is its clock.
	Budget int
	Now    func() time.Time

	mu       sync.Mutex
	contacts map[string]map[string]string // by email
	deals    map[string]map[string]string // by order_ref
	window   time.Time
	used     int
	requests int
	limited  int
	nextID   int
}

// New starts a fake HubSpot that accepts token.
func New(token string) *Server {
	s := &Server{Token: token, contacts: map[string]map[string]string{}, deals: map[string]map[string]string{}, Now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+hubspot.ContactsUpsertPath, func(w http.ResponseWriter, r *http.Request) { s.upsert(w, r, s.contacts, "email") })
	mux.HandleFunc("POST "+hubspot.DealsUpsertPath, func(w http.ResponseWriter, r *http.Request) {
		s.upsert(w, r, s.deals, hubspot.OrderRefProperty)
	})
	s.Server = httptest.NewServer(mux)
	return s
}

func (s *Server) upsert(w http.ResponseWriter, r *http.Request, store map[string]map[string]string, idProperty string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`)
		return
	}
	now := s.Now()
	if now.Sub(s.window) >= 10*time.Second {
		s.window, s.used = now, 0
	}
	w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	if s.Budget > 0 {
		w.Header().Set("X-HubSpot-RateLimit-Max", strconv.Itoa(s.Budget))
		if s.used >= s.Budget {
			s.limited++
			w.Header().Set("X-HubSpot-RateLimit-Remaining", "0")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`)
			return
		}
		s.used++
		w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(s.Budget-s.used))
	}
	var req hubspot.BatchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Inputs) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"error","message":"Invalid input JSON","category":"VALIDATION_ERROR"}`)
		return
	}
	type result struct {
		ID         string            `json:"id"`
		New        bool              `json:"new"`
		Properties map[string]string `json:"properties"`
		CreatedAt  time.Time         `json:"createdAt"`
		UpdatedAt  time.Time         `json:"updatedAt"`
		Archived   bool              `json:"archived"`
	}
	var results []result
	for _, in := range req.Inputs {
		if in.IDProperty != idProperty || in.ID == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"status":"error","message":"idProperty must be %s","category":"VALIDATION_ERROR"}`, idProperty)
			return
		}
		rec, ok := store[in.ID]
		if !ok {
			s.nextID++
			rec = map[string]string{"hs_object_id": strconv.Itoa(s.nextID)}
			store[in.ID] = rec
		}
		for k, v := range in.Properties {
			rec[k] = v
		}
		results = append(results, result{ID: rec["hs_object_id"], New: !ok, Properties: rec, CreatedAt: now, UpdatedAt: now})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "COMPLETE", "results": results,
		"startedAt": now, "completedAt": now})
}

// Deal returns the properties of the deal of order ref.
func (s *Server) Deal(ref string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deals[ref]
	return d, ok
}

// Contact returns the properties of the contact with email.
func (s *Server) Contact(email string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[email]
	return c, ok
}

// Counts returns the deals and contacts held, the requests seen and those refused with 429.
func (s *Server) Counts() (deals, contacts, requests, limited int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.deals), len(s.contacts), s.requests, s.limited
}
