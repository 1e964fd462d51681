package bigcommerce

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
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

// ordersPage is the page size the listing asks for: the v2 API's maximum.
const ordersPage = 250

// maxListResponse bounds one listing page's body.
const maxListResponse = 32 << 20

// OrdersAPI lists a store's orders over the v2 REST API (reconciliation):
// GET /stores/{store_hash}/v2/orders with min_date_modified and
// max_date_modified (ISO 8601), sort=id:asc and limit=250, X-Auth-Token
// access_token. It pages by id (min_id just above the last id listed) rather
// than page=N, so an order modified while the listing runs, which leaves the
// window, does not shift a later order out of the pages. The v2 API answers
// 204 No Content when nothing (more) matches. A 429 is waited out for its
// Retry-After (or X-Rate-Limit-Time-Reset-Ms) and a failing page is retried,
// then reported (providerapi.Client).
type OrdersAPI struct {
	BaseURL string // …/stores/{store_hash}
	Token   string
	HTTP    *http.Client

	// Sleep, Attempts and OnRetry: how a failing page is retried.
	providerapi.Retry
}

// NewOrdersAPI returns the listing client of a BigCommerce source. Returns
// EINVALID when the source has no store_hash or access_token, or a malformed
// api_base_url.
func NewOrdersAPI(src domain.Source, hc *http.Client) (*OrdersAPI, error) {
	hash, token := src.Setting("store_hash", ""), src.Setting("access_token", "")
	if hash == "" || token == "" {
		return nil, domain.Errorf(domain.EINVALID, "source %s: store_hash and access_token: set the store hash and an API account token with read-only Orders scope (e.g. access_token: env:BC_ACCESS_TOKEN) to reconcile it", src.ID)
	}
	base := src.Setting("api_base_url", DefaultAPIBaseURL)
	if err := checkBaseURL(base); err != nil {
		return nil, domain.Errorf(domain.EINVALID, "source %s: %s", src.ID, domain.ErrorMessage(err))
	}
	return &OrdersAPI{BaseURL: strings.TrimRight(base, "/") + "/stores/" + url.PathEscape(hash), Token: token, HTTP: providerapi.HTTPClient(hc)}, nil
}

// isoTime is how the listing writes its bounds (ISO 8601, as the v2 API takes them).
const isoTime = "2006-01-02T15:04:05-07:00"

// Orders lists the orders modified in [since, until], in id order, page by
// page. An error ends the listing: it is yielded once, after everything
// listed before it.
func (a *OrdersAPI) Orders(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		var after int64 // the last id listed
		for n := 1; ; n++ {
			q := url.Values{}
			q.Set("min_date_modified", since.UTC().Format(isoTime))
			q.Set("max_date_modified", until.UTC().Format(isoTime))
			q.Set("sort", "id:asc")
			q.Set("limit", strconv.Itoa(ordersPage))
			desc := fmt.Sprintf("orders page %d", n)
			if after > 0 {
				q.Set("min_id", strconv.FormatInt(after+1, 10))
				desc += fmt.Sprintf(" (orders after %d)", after)
			}
			var orders []json.RawMessage
			p, err := a.client().Get(ctx, a.BaseURL+"/v2/orders?"+q.Encode(), desc, &orders)
			if err != nil {
				yield(nil, err)
				return
			}
			if p.Status == http.StatusNoContent || len(orders) == 0 {
				return
			}
			for _, o := range orders {
				if !yield(o, nil) {
					return
				}
			}
			var last struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(orders[len(orders)-1], &last); err != nil || last.ID <= after {
				yield(nil, fmt.Errorf("bigcommerce GET %s: the page's last order has no id above %d to page after", desc, after))
				return
			}
			if len(orders) < ordersPage {
				return
			}
			after = last.ID
		}
	}
}

// Order fetches one order by id; found is false when the store does not know it.
func (a *OrdersAPI) Order(ctx context.Context, id string) (json.RawMessage, bool, error) {
	var o json.RawMessage
	p, err := a.client().Get(ctx, a.BaseURL+"/v2/orders/"+url.PathEscape(id), "order "+id, &o)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return o, p.Status == http.StatusOK && len(o) > 0 && string(o) != "null", nil
}

// client is the polite GET of a's settings.
func (a *OrdersAPI) client() *providerapi.Client {
	return &providerapi.Client{
		HTTP:         a.HTTP,
		Authorize:    func(r *http.Request) { r.Header.Set("X-Auth-Token", a.Token) },
		Name:         "bigcommerce GET",
		Body:         "BigCommerce's orders JSON",
		MaxBody:      maxListResponse,
		Unauthorized: "the access_token was refused; give an API account token with the read-only Orders scope",
		NotFound:     true,
		ErrorText:    apiError,
		Wait429:      wait429,
		Retry:        a.Retry,
	}
}

// wait429 is how long a 429 asks to wait: Retry-After, or else
// X-Rate-Limit-Time-Reset-Ms (the milliseconds until the store's quota refreshes).
func wait429(h http.Header) time.Duration {
	if h.Get("Retry-After") == "" {
		if ms, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Rate-Limit-Time-Reset-Ms")), 10, 64); err == nil && ms >= 0 {
			return min(time.Duration(ms)*time.Millisecond, providerapi.MaxRetryAfter)
		}
	}
	return providerapi.RetryAfter(h.Get("Retry-After"))
}

// apiError is the message of an error body: v2's [{"status":…,"message":…}]
// or v3's {"title":…}.
func apiError(body []byte) string {
	var v2 []struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v2) == nil && len(v2) > 0 && v2[0].Message != "" {
		return v2[0].Message
	}
	var v3 struct {
		Title string `json:"title"`
	}
	_ = json.Unmarshal(body, &v3)
	return v3.Title
}

// ListedOrder is a listed (or fetched) v2 order's id and date_modified.
type ListedOrder struct {
	ID       int64
	Modified time.Time
	Raw      json.RawMessage
}

// ReadListed reads a listed order's head. An error with a non-zero ID names
// the order whose date_modified is unreadable.
func ReadListed(raw json.RawMessage) (ListedOrder, error) {
	var o order
	if err := json.Unmarshal(raw, &o); err != nil || o.ID <= 0 {
		return ListedOrder{}, fmt.Errorf("listed order: not a BigCommerce order: %v", err)
	}
	at, err := time.Parse(time.RFC1123Z, o.DateModified)
	if err != nil {
		return ListedOrder{ID: o.ID}, fmt.Errorf("listed order %d: date_modified %q is not an RFC 1123 time", o.ID, o.DateModified)
	}
	return ListedOrder{ID: o.ID, Modified: at.UTC(), Raw: raw}, nil
}

// Ref is the order's ref in Tradewind.
func (o ListedOrder) Ref() string { return strconv.FormatInt(o.ID, 10) }

// ReplayID is the event id of the webhook that replays o in the reconciliation:
// "reconciliation:order:<id>:<date_modified>".
func (o ListedOrder) ReplayID() string {
	return "reconciliation:order:" + o.Ref() + ":" + o.Modified.Format(time.RFC3339)
}

// ListedMessage is the webhook BigCommerce sends on scope (store/order/created
// or store/order/updated) about the listed order o, as the Fetcher completes
// it: the thin payload ({"scope", "data": {"type": "order", "id"}, "hash",
// "created_at", "producer"}) with the listed order under "fetched" (without
// its products, which the listing does not carry: the snapshot's lines are
// empty, its status, total, currency and version are the order's). Its id is
// o.ReplayID(), its hash that id's SHA-1. Fetch, on the worker's path,
// replaces "fetched" with the order and products as the store API then
// answers, as for any webhook.
func ListedMessage(storeHash, scope string, o ListedOrder) (domain.Message, error) {
	if scope != ScopeOrderCreated && scope != ScopeOrderUpdated {
		return domain.Message{}, fmt.Errorf("bigcommerce: a listed order is replayed as %s or %s, not %s", ScopeOrderCreated, ScopeOrderUpdated, scope)
	}
	id := o.ReplayID()
	sum := sha1.Sum([]byte(id))
	var p struct {
		Scope string `json:"scope"`
		Data  struct {
			Type string `json:"type"`
			ID   int64  `json:"id"`
		} `json:"data"`
		Hash      string  `json:"hash"`
		CreatedAt int64   `json:"created_at"`
		Producer  string  `json:"producer"`
		Fetched   fetched `json:"fetched"`
	}
	p.Scope, p.Data.Type, p.Data.ID = scope, "order", o.ID
	p.Hash, p.CreatedAt, p.Producer = hex.EncodeToString(sum[:]), o.Modified.Unix(), "stores/"+storeHash
	p.Fetched = fetched{At: o.Modified, Order: o.Raw}
	body, err := json.Marshal(p)
	if err != nil {
		return domain.Message{}, err
	}
	return domain.Message{ID: id, Type: scope, OccurredAt: o.Modified, Payload: body}, nil
}
