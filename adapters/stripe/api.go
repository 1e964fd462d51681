package stripe

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/tradewind/tradewind/adapters/providerapi"
	"github.com/tradewind/tradewind/domain"
)

// DefaultAPIBaseURL is Stripe's production API, used when a source sets no api_base_url.
const DefaultAPIBaseURL = "https://api.stripe.com"

// Source settings for calling Stripe's API (reconciliation).
const (
	SettingAPIKey     = "api_key"      // a secret or restricted key (read access to events and payment intents); "env:NAME" works
	SettingAPIBaseURL = "api_base_url" // DefaultAPIBaseURL unless set (a test double)
)

// pageLimit is the page size asked for: Stripe's maximum.
const pageLimit = 100

// maxListResponse bounds one list page's body.
const maxListResponse = 16 << 20

// API lists Stripe's own records over its REST API: GET /v1/events (the last 30
// days of events) and GET /v1/payment_intents (state older than that). Lists are
// newest first and paged with starting_after; a 429 is waited out for its
// Retry-After and a failing page is retried, then reported.
type API struct {
	BaseURL string
	Key     string
	HTTP    *http.Client

	// Sleep, Attempts and OnRetry: how a failing page is retried.
	providerapi.Retry
}

// NewAPI returns the API client of a Stripe source. Returns EINVALID when the
// source has no api_key or a malformed api_base_url.
func NewAPI(src domain.Source, hc *http.Client) (*API, error) {
	key := src.Setting(SettingAPIKey, "")
	if key == "" {
		return nil, domain.Errorf(domain.EINVALID, "source %s: api_key: set a Stripe secret or restricted key with read access to events and payment intents (e.g. api_key: env:STRIPE_SECRET_KEY) to reconcile it", src.ID)
	}
	base, err := providerapi.BaseURL(src, DefaultAPIBaseURL, "leave it out for "+DefaultAPIBaseURL)
	if err != nil {
		return nil, err
	}
	return &API{BaseURL: base, Key: key, HTTP: providerapi.HTTPClient(hc)}, nil
}

// list is Stripe's list envelope: {"object":"list","data":[…],"has_more":…,"url":…}.
type list struct {
	Object  string            `json:"object"`
	Data    []json.RawMessage `json:"data"`
	HasMore bool              `json:"has_more"`
	URL     string            `json:"url"`
}

// UnmarshalJSON reads a list envelope, refusing any other object.
func (l *list) UnmarshalJSON(b []byte) error {
	type plain list
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Object != "list" {
		return fmt.Errorf("object %q is not a list", p.Object)
	}
	*l = list(p)
	return nil
}

// Events lists the events created in [since, until] (of the given types; all
// when none), newest first, page by page. An error ends the listing: it is
// yielded once, after everything listed before it.
func (a *API) Events(ctx context.Context, since, until time.Time, types []string) iter.Seq2[json.RawMessage, error] {
	q := window(since, until)
	for _, t := range types {
		q.Add("types[]", t)
	}
	return a.pages(ctx, "/v1/events", q)
}

// PaymentIntents lists the payment intents created in [since, until], newest
// first, each with its latest charge expanded (what was refunded).
func (a *API) PaymentIntents(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error] {
	q := window(since, until)
	q.Add("expand[]", "data.latest_charge")
	return a.pages(ctx, "/v1/payment_intents", q)
}

func window(since, until time.Time) url.Values {
	q := url.Values{}
	q.Set("created[gte]", strconv.FormatInt(since.Unix(), 10))
	if !until.IsZero() {
		q.Set("created[lte]", strconv.FormatInt(until.Unix(), 10))
	}
	q.Set("limit", strconv.Itoa(pageLimit))
	return q
}

func (a *API) pages(ctx context.Context, path string, q url.Values) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		after := ""
		for {
			if after != "" {
				q.Set("starting_after", after)
			}
			page, err := a.page(ctx, path, q)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, item := range page.Data {
				if !yield(item, nil) {
					return
				}
			}
			if !page.HasMore || len(page.Data) == 0 {
				return
			}
			var last struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(page.Data[len(page.Data)-1], &last); err != nil || last.ID == "" {
				yield(nil, fmt.Errorf("stripe GET %s: the page's last item has no id to page after", path))
				return
			}
			after = last.ID
		}
	}
}

// page fetches one page, waiting out 429s and retrying failures up to Attempts
// (providerapi.Client.Get). Returns EUNAVAILABLE when every try failed,
// EUNAUTHORIZED for a refused key and EINVALID for any other refusal.
func (a *API) page(ctx context.Context, path string, q url.Values) (list, error) {
	desc := path
	if after := q.Get("starting_after"); after != "" {
		desc += " after " + after
	}
	var l list
	if _, err := a.client().Get(ctx, a.BaseURL+path+"?"+q.Encode(), desc, &l); err != nil {
		return list{}, err
	}
	return l, nil
}

// client is the polite GET of a's settings.
func (a *API) client() *providerapi.Client {
	return &providerapi.Client{
		HTTP:         a.HTTP,
		Authorize:    func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+a.Key) },
		Name:         "stripe GET",
		Body:         "a Stripe list",
		MaxBody:      maxListResponse,
		Unauthorized: "the api_key was refused; give a key with read access to events and payment intents",
		ErrorText:    stripeError,
		Retry:        a.Retry,
	}
}

// stripeError is the message of Stripe's error body {"error":{"message":…}}.
func stripeError(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Message
}

// EventHead is what the reconciliation reads of a listed event to compare it:
// its id, type and creation time.
type EventHead struct {
	ID      string
	Type    string
	Created time.Time
}

// Head reads an event's id, type and creation time.
func Head(raw json.RawMessage) (EventHead, error) {
	e, err := decode(raw)
	if err != nil {
		return EventHead{}, err
	}
	return EventHead{ID: e.ID, Type: e.Type, Created: unix(e.Created)}, nil
}

// HandledTypes are the event types Normalize applies.
func HandledTypes() []string { return slices.Collect(maps.Keys(handled)) }

// IntentState is a listed payment intent as the reconciliation compares it.
type IntentState struct {
	ID       string
	OrderRef string
	Created  time.Time
	State    domain.HeldState
	Raw      json.RawMessage
}

// Intent reads a listed payment intent (latest_charge expanded, or not) into
// the terms domain.ComparePayment compares, in ISO minor units.
func Intent(src domain.Source, raw json.RawMessage) (IntentState, error) {
	var pi struct {
		ID               string            `json:"id"`
		Created          int64             `json:"created"`
		Status           string            `json:"status"`
		Amount           int64             `json:"amount"`
		AmountReceived   int64             `json:"amount_received"`
		AmountCapturable int64             `json:"amount_capturable"`
		Currency         string            `json:"currency"`
		Metadata         map[string]string `json:"metadata"`
		LatestCharge     json.RawMessage   `json:"latest_charge"`
	}
	if err := json.Unmarshal(raw, &pi); err != nil || pi.ID == "" {
		return IntentState{}, fmt.Errorf("payment intent: not a Stripe payment intent: %v", err)
	}
	var charge struct {
		AmountRefunded int64 `json:"amount_refunded"`
	}
	if len(pi.LatestCharge) > 0 && pi.LatestCharge[0] == '{' {
		_ = json.Unmarshal(pi.LatestCharge, &charge)
	}
	cur, err := domain.NormalizeCurrency(pi.Currency)
	if err != nil {
		return IntentState{}, err
	}
	conv := func(v int64) (int64, error) { return Units.FromProvider(v, cur) }
	received, err := conv(pi.AmountReceived)
	if err != nil {
		return IntentState{}, err
	}
	capturable, err := conv(pi.AmountCapturable)
	if err != nil {
		return IntentState{}, err
	}
	refunded, err := conv(charge.AmountRefunded)
	if err != nil {
		return IntentState{}, err
	}
	failed := pi.Status == "canceled"
	st := domain.PaymentHeldState(capturable, received, refunded, cur, failed)
	return IntentState{ID: pi.ID, OrderRef: pi.Metadata[src.OrderRefKey()], Created: unix(pi.Created), State: st, Raw: raw}, nil
}
