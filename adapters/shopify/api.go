package shopify

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/providerapi"
	"github.com/tradewind/tradewind/domain"
)

// APIVersion is the Admin API version Tradewind speaks.
const APIVersion = "2024-10"

// Source settings for calling Shopify's Admin API (reconciliation).
const (
	SettingShopDomain = "shop_domain"  // "acme.myshopify.com"
	SettingAdminToken = "admin_token"  // an Admin API access token with read_orders; "env:NAME" works
	SettingAPIBaseURL = "api_base_url" // "https://{shop_domain}/admin/api/2024-10" unless set (a test double)
)

// ordersPage is the page size asked for: Shopify's maximum.
const ordersPage = 250

// maxListResponse bounds one page's body.
const maxListResponse = 32 << 20

// API lists a shop's orders over the REST Admin API: GET /orders.json with
// updated_at_min/updated_at_max, status=any and since_id=0, which makes Shopify
// list them by id, ascending; further pages follow the Link header's rel="next"
// URL (page_info, which carries the first request's filters and order: Shopify
// refuses any other parameter beside it but limit and fields). A 429 is waited
// out for its Retry-After and a failing page is retried, then reported.
type API struct {
	BaseURL string // up to and including /admin/api/<version>
	Token   string
	HTTP    *http.Client

	// Sleep, Attempts and OnRetry: how a failing page is retried.
	providerapi.Retry
}

// NewAPI returns the Admin API client of a Shopify source. Returns EINVALID
// when the source has no admin_token, or neither a shop_domain nor an
// api_base_url.
func NewAPI(src domain.Source, hc *http.Client) (*API, error) {
	token := src.Setting(SettingAdminToken, "")
	if token == "" {
		return nil, domain.Errorf(domain.EINVALID, "source %s: admin_token: set an Admin API access token with the read_orders scope (e.g. admin_token: env:SHOPIFY_ADMIN_TOKEN) to reconcile it", src.ID)
	}
	shopAPI := "" // the default base: the shop's own Admin API
	if src.Setting(SettingAPIBaseURL, "") == "" {
		shop := strings.TrimSpace(src.Setting(SettingShopDomain, ""))
		if shop == "" || strings.ContainsAny(shop, "/:?#@ ") {
			return nil, domain.Errorf(domain.EINVALID, "source %s: shop_domain: set the shop's domain, e.g. shop_domain: acme.myshopify.com, to reconcile it", src.ID)
		}
		shopAPI = "https://" + shop + "/admin/api/" + APIVersion
	}
	base, err := providerapi.BaseURL(src, shopAPI, "leave it out for https://{shop_domain}/admin/api/"+APIVersion)
	if err != nil {
		return nil, err
	}
	return &API{BaseURL: base, Token: token, HTTP: providerapi.HTTPClient(hc)}, nil
}

// Orders lists the orders updated in [since, until], of any status, in id
// order, page by page. An error ends the listing: it is yielded once, after
// everything listed before it.
func (a *API) Orders(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error] {
	q := url.Values{}
	q.Set("status", "any")
	q.Set("updated_at_min", since.UTC().Format(time.RFC3339))
	q.Set("updated_at_max", until.UTC().Format(time.RFC3339))
	q.Set("since_id", "0") // lists by id, ascending
	q.Set("limit", strconv.Itoa(ordersPage))
	first := a.BaseURL + "/orders.json?" + q.Encode()
	return func(yield func(json.RawMessage, error) bool) {
		next := first
		for n := 1; next != ""; n++ {
			var page struct {
				Orders []json.RawMessage `json:"orders"`
			}
			link, err := a.page(ctx, next, fmt.Sprintf("orders page %d", n), &page)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, o := range page.Orders {
				if !yield(o, nil) {
					return
				}
			}
			next = link
			if next != "" && !sameOrigin(next, a.BaseURL) {
				yield(nil, fmt.Errorf("shopify: the next page's link %q leaves %s", next, a.BaseURL))
				return
			}
		}
	}
}

// Order fetches one order by id; found is false when Shopify does not know it.
func (a *API) Order(ctx context.Context, id string) (raw json.RawMessage, found bool, err error) {
	var one struct {
		Order json.RawMessage `json:"order"`
	}
	_, err = a.page(ctx, a.BaseURL+"/orders/"+url.PathEscape(id)+".json", "order "+id, &one)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return one.Order, len(one.Order) > 0 && string(one.Order) != "null", nil
}

func sameOrigin(link, base string) bool {
	l, err1 := url.Parse(link)
	b, err2 := url.Parse(base)
	return err1 == nil && err2 == nil && l.Scheme == b.Scheme && l.Host == b.Host
}

// page fetches one URL into v, waiting out 429s and retrying failures up to
// Attempts (providerapi.Client.Get), and returns the Link header's rel="next"
// URL. Returns EUNAVAILABLE when every try failed, EUNAUTHORIZED for a refused
// token, ENOTFOUND for a 404 and EINVALID for any other refusal.
func (a *API) page(ctx context.Context, u, desc string, v any) (string, error) {
	p, err := a.client().Get(ctx, u, desc, v)
	return p.Next, err
}

// client is the polite GET of a's settings.
func (a *API) client() *providerapi.Client {
	return &providerapi.Client{
		HTTP:         a.HTTP,
		Authorize:    func(r *http.Request) { r.Header.Set("X-Shopify-Access-Token", a.Token) },
		Name:         "shopify GET",
		Body:         "Shopify's orders JSON",
		MaxBody:      maxListResponse,
		Unauthorized: "the admin_token was refused; give an Admin API access token with the read_orders scope (read_all_orders for windows older than 60 days)",
		NotFound:     true,
		ErrorText:    shopifyError,
		Retry:        a.Retry,
	}
}

// shopifyError is the message of Shopify's error body {"errors": "…"} or
// {"errors": {"field": ["…"]}}.
func shopifyError(body []byte) string {
	var e struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(e.Errors, &s) == nil {
		return s
	}
	return string(e.Errors)
}

// nextLink is the rel="next" URL of Link headers, or "".
func nextLink(headers []string) string { return providerapi.NextLink(headers) }

// ListedOrder is what the reconciliation reads of a listed order beside its
// normalized snapshot: its id, updated_at, financial_status and refunds.
type ListedOrder struct {
	ID              int64
	UpdatedAt       time.Time
	UpdatedAtRaw    string
	FinancialStatus string
	// Refunds are the order's refunds as listed: each is the body Shopify sends
	// as refunds/create.
	Refunds []json.RawMessage
}

// ReadListed reads a listed order's head.
func ReadListed(raw json.RawMessage) (ListedOrder, error) {
	var o struct {
		ID              int64             `json:"id"`
		UpdatedAt       string            `json:"updated_at"`
		FinancialStatus string            `json:"financial_status"`
		Refunds         []json.RawMessage `json:"refunds"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.ID == 0 {
		return ListedOrder{}, fmt.Errorf("listed order: not a Shopify order: %v", err)
	}
	at, err := time.Parse(time.RFC3339, o.UpdatedAt)
	if err != nil {
		return ListedOrder{}, fmt.Errorf("listed order %d: updated_at %q: %v", o.ID, o.UpdatedAt, err)
	}
	return ListedOrder{ID: o.ID, UpdatedAt: at.UTC(), UpdatedAtRaw: o.UpdatedAt, FinancialStatus: o.FinancialStatus, Refunds: o.Refunds}, nil
}

// PaymentStatus is Tradewind's word for a financial_status ("" for one it has
// none for).
func PaymentStatus(financialStatus string) domain.PaymentStatus {
	switch financialStatus {
	case "pending", "voided", "expired":
		return domain.PayUnpaid
	case "authorized":
		return domain.PayAuthorized
	case "partially_paid":
		return domain.PayPartiallyPaid
	case "paid":
		return domain.PayPaid
	case "partially_refunded":
		return domain.PayPartiallyRefunded
	case "refunded":
		return domain.PayRefunded
	}
	return ""
}

// RefundHead is a listed refund's id and time.
func RefundHead(raw json.RawMessage) (id int64, at time.Time, err error) {
	var r struct {
		ID          int64  `json:"id"`
		CreatedAt   string `json:"created_at"`
		ProcessedAt string `json:"processed_at"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.ID == 0 {
		return 0, time.Time{}, fmt.Errorf("listed refund: not a Shopify refund: %v", err)
	}
	for _, s := range []string{r.ProcessedAt, r.CreatedAt} {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return r.ID, t.UTC(), nil
		}
	}
	return r.ID, time.Time{}, nil
}
