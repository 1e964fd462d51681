package paypal

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
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/providerapi"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// EventRetention is how far back PayPal lists webhook events: its Webhooks
// Events dashboard and GET /v1/notifications/webhooks-events take a date range
// "in the last 30 days".
const EventRetention = 30 * 24 * time.Hour

// listPageSize is the page_size asked for.
const listPageSize = 100

// maxListResponse bounds one list page's body.
const maxListResponse = 16 << 20

// ListingAPI lists a PayPal REST app's webhook events over PayPal's API:
// GET /v1/notifications/webhooks-events with start_time, end_time and
// page_size, paged by the answer's HATEOAS link rel "next", with an OAuth 2
// client-credentials token (POST /v1/oauth2/token). A 429 is waited out for its
// Retry-After and a failing page is retried, then reported.
type ListingAPI struct {
	src  domain.Source
	base string
	HTTP *http.Client

	// Sleep, Attempts and OnRetry: how a failing page is retried.
	providerapi.Retry
}

// NewListingAPI returns the listing client of a PayPal source. Returns
// EINVALID when the source has no client_id and client_secret or a malformed
// api_base_url.
func NewListingAPI(src domain.Source, hc *http.Client) (*ListingAPI, error) {
	if src.Setting(SettingClientID, "") == "" || src.Setting(SettingClientSecret, "") == "" {
		return nil, domain.Errorf(domain.EINVALID, "source %s: client_id and client_secret: set the REST app's credentials (the app whose webhook delivers to this source) to reconcile it", src.ID)
	}
	if err := checkCredentials(src); err != nil {
		return nil, domain.Errorf(domain.EINVALID, "source %s: %s", src.ID, domain.ErrorMessage(err))
	}
	return &ListingAPI{src: src, base: apiBase(src), HTTP: providerapi.HTTPClient(hc)}, nil
}

// eventList is PayPal's answer: {"events":[…],"count":n,"links":[{"href","rel","method"}]}.
type eventList struct {
	Events []json.RawMessage `json:"events"`
	Count  int               `json:"count"`
	Links  []struct {
		Href string `json:"href"`
		Rel  string `json:"rel"`
	} `json:"links"`
}

// Events lists the webhook events created in [since, until], as PayPal orders
// them (newest first), page by page. An error ends the listing: it is yielded
// once, after everything listed before it.
func (a *ListingAPI) Events(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		tok, err := Provider{opt: Options{Client: a.HTTP}}.token(ctx, a.src)
		if err != nil {
			yield(nil, err)
			return
		}
		c := a.client(tok)
		q := url.Values{}
		q.Set("start_time", since.UTC().Format(time.RFC3339))
		q.Set("end_time", until.UTC().Format(time.RFC3339))
		q.Set("page_size", strconv.Itoa(listPageSize))
		next := a.base + "/v1/notifications/webhooks-events?" + q.Encode()
		for page := 1; next != ""; page++ {
			var l eventList
			if _, err := c.Get(ctx, next, fmt.Sprintf("webhooks-events page %d", page), &l); err != nil {
				yield(nil, err)
				return
			}
			for _, e := range l.Events {
				if !yield(e, nil) {
					return
				}
			}
			next = ""
			for _, link := range l.Links {
				if link.Rel == "next" && len(l.Events) > 0 {
					if next, err = a.rebase(link.Href); err != nil {
						yield(nil, err)
						return
					}
				}
			}
		}
	}
}

// rebase is PayPal's next link on the source's api_base_url: the path and
// query PayPal gave, never another host (the token goes only to api_base_url).
func (a *ListingAPI) rebase(href string) (string, error) {
	// PayPal's published samples write the link's & as &amp;.
	u, err := url.Parse(strings.ReplaceAll(href, "&amp;", "&"))
	if err != nil || u.Path == "" {
		return "", domain.Errorf(domain.EUNAVAILABLE, "paypal GET webhooks-events: the next page's link %q is not a URL", href)
	}
	return a.base + u.EscapedPath() + "?" + u.RawQuery, nil
}

func (a *ListingAPI) client(tok string) *providerapi.Client {
	return &providerapi.Client{
		HTTP:         a.HTTP,
		Authorize:    func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) },
		Name:         "paypal GET",
		Body:         "PayPal's event list",
		MaxBody:      maxListResponse,
		Unauthorized: "the token of client_id was refused; give the credentials of the REST app whose webhook delivers to this source",
		ErrorText:    paypalError,
		Retry:        a.Retry,
	}
}

// paypalError is the message of PayPal's error body {"name","message"}.
func paypalError(body []byte) string {
	var e struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return ""
	}
	return e.Name + ": " + e.Message
}

// EventHead is what the reconciliation reads of a listed event to compare it.
type EventHead struct {
	ID      string
	Type    string
	Created time.Time
}

// Head reads a listed event's id, type and creation time (the time its
// webhook's message carries).
func Head(raw json.RawMessage) (EventHead, error) {
	e, err := decode(raw)
	if err != nil {
		return EventHead{}, err
	}
	at := webhook.ParseTime(e.CreateTime)
	if at.IsZero() {
		return EventHead{}, fmt.Errorf("event %s: create_time %q is not an RFC 3339 time", e.ID, e.CreateTime)
	}
	return EventHead{ID: e.ID, Type: e.EventType, Created: at}, nil
}

// HandledTypes are the event types Normalize applies.
func HandledTypes() []string { return slices.Collect(maps.Keys(handled)) }
