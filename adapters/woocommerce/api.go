package woocommerce

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tradewind/tradewind/adapters/providerapi"
	"github.com/tradewind/tradewind/domain"
)

// Source settings for calling the store's REST API (reconciliation).
const (
	SettingAPIBaseURL     = "api_base_url"    // the site's URL, e.g. https://shop.example.com (the API is under /wp-json/wc/v3)
	SettingConsumerKey    = "consumer_key"    // a REST API key with read access; "env:NAME" works
	SettingConsumerSecret = "consumer_secret" // its secret
)

// ordersPage is the page size asked for: WooCommerce's maximum.
const ordersPage = 100

// maxListResponse bounds one page's body.
const maxListResponse = 32 << 20

// API lists a store's orders over the WooCommerce REST API v3: GET
// /wp-json/wc/v3/orders with modified_after/modified_before (GMT),
// status=any, orderby=id&order=asc, per_page=100 and page=N up to X-WP-TotalPages,
// with HTTP Basic auth (consumer key and secret; the site must be served over
// HTTPS). A 429 is waited out for its Retry-After and a failing page is
// retried, then reported.
type API struct {
	BaseURL     string // the site, without /wp-json
	Key, Secret string
	HTTP        *http.Client

	// Sleep, Attempts and OnRetry: how a failing page is retried.
	providerapi.Retry
}

// NewAPI returns the REST API client of a WooCommerce source. Returns EINVALID
// when the source has no api_base_url, consumer_key or consumer_secret.
func NewAPI(src domain.Source, hc *http.Client) (*API, error) {
	key, secret := src.Setting(SettingConsumerKey, ""), src.Setting(SettingConsumerSecret, "")
	if key == "" || secret == "" {
		return nil, domain.Errorf(domain.EINVALID, "source %s: consumer_key and consumer_secret: set a WooCommerce REST API key with read access (WooCommerce → Settings → Advanced → REST API; e.g. consumer_secret: env:WC_CONSUMER_SECRET) to reconcile it", src.ID)
	}
	base, err := providerapi.BaseURL(src, "", "set it to the store's site, e.g. https://shop.example.com, to reconcile it")
	if err != nil {
		return nil, err
	}
	return &API{BaseURL: base, Key: key, Secret: secret, HTTP: providerapi.HTTPClient(hc)}, nil
}

// gmt is WooCommerce's GMT time format (ISO 8601 without a zone).
const gmt = "2006-01-02T15:04:05"

// Orders lists the orders modified in [since, until], of any status, in id
// order, page by page. An error ends the listing: it is yielded once, after
// everything listed before it.
func (a *API) Orders(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		for page, pages := 1, 1; page <= pages; page++ {
			q := url.Values{}
			q.Set("modified_after", since.UTC().Add(-time.Second).Format(gmt)) // exclusive bounds: widened to include both ends
			q.Set("modified_before", until.UTC().Add(time.Second).Format(gmt))
			q.Set("dates_are_gmt", "true")
			q.Set("status", "any")
			q.Set("orderby", "id")
			q.Set("order", "asc")
			q.Set("per_page", strconv.Itoa(ordersPage))
			q.Set("page", strconv.Itoa(page))
			var orders []json.RawMessage
			h, err := a.fetch(ctx, "/wp-json/wc/v3/orders?"+q.Encode(), fmt.Sprintf("orders page %d", page), &orders)
			if err != nil {
				yield(nil, err)
				return
			}
			if n, err := strconv.Atoi(h.Get("X-WP-TotalPages")); err == nil {
				pages = n
			}
			for _, o := range orders {
				if !yield(o, nil) {
					return
				}
			}
		}
	}
}

// Order fetches one order by id; found is false when the store does not know it.
func (a *API) Order(ctx context.Context, id string) (json.RawMessage, bool, error) {
	var o json.RawMessage
	_, err := a.fetch(ctx, "/wp-json/wc/v3/orders/"+url.PathEscape(id), "order "+id, &o)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, false, nil
	}
	return o, err == nil, err
}

// fetch GETs path into v, waiting out 429s and retrying failures up to
// Attempts (providerapi.Client.Get), and returns the response's headers.
// Returns EUNAVAILABLE when every try failed, EUNAUTHORIZED for refused keys,
// ENOTFOUND for a 404 and EINVALID for any other 4xx.
func (a *API) fetch(ctx context.Context, path, desc string, v any) (http.Header, error) {
	p, err := a.client().Get(ctx, a.BaseURL+path, desc, v)
	return p.Header, err
}

// client is the polite GET of a's settings.
func (a *API) client() *providerapi.Client {
	return &providerapi.Client{
		HTTP:         a.HTTP,
		Authorize:    func(r *http.Request) { r.SetBasicAuth(a.Key, a.Secret) },
		Name:         "woocommerce GET",
		Body:         "WooCommerce's orders JSON",
		MaxBody:      maxListResponse,
		Unauthorized: "the consumer key was refused; give a REST API key with read access",
		NotFound:     true,
		ErrorText:    wooError,
		Retry:        a.Retry,
	}
}

// wooError is the message of WooCommerce's error body {"code","message","data"}.
func wooError(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Message
}

// ListedHead is a listed order's id and date_modified_gmt.
func ListedHead(raw json.RawMessage) (id int64, modified time.Time, err error) {
	var o struct {
		ID              int64  `json:"id"`
		DateModifiedGMT string `json:"date_modified_gmt"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.ID == 0 {
		return 0, time.Time{}, fmt.Errorf("listed order: not a WooCommerce order: %v", err)
	}
	at, err := time.ParseInLocation(gmt, o.DateModifiedGMT, time.UTC)
	if err != nil {
		return o.ID, time.Time{}, fmt.Errorf("listed order %d: date_modified_gmt %q: %v", o.ID, o.DateModifiedGMT, err)
	}
	return o.ID, at, nil
}
