package bigcommerce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// pageSize is the v2 order products page size (the API's maximum).
const pageSize = 250

// maxPages bounds the products of one order (pageSize × maxPages lines).
const maxPages = 100

// maxResponse bounds one store API response body.
const maxResponse = 8 << 20

var defaultClient = &http.Client{Timeout: 20 * time.Second}

func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return domain.Errorf(domain.EINVALID, "api_base_url: %q is not an http(s) base URL; leave it out for %s, or give the scheme and host of a test double", raw, DefaultAPIBaseURL)
	}
	return nil
}

// Fetch implements domain.Fetcher: it reads the order (and its products) or the SKU's
// variant named by a thin payload from the store API and returns the message with the
// fetched bodies added under "fetched". Returns ENOTFOUND when the store API answers 404,
// EUNAVAILABLE when it cannot be reached, answers 401/403/429/5xx or an unreadable body,
// and EINVALID for a source without store settings or any other answer.
func (p Provider) Fetch(ctx context.Context, src domain.Source, m domain.Message) (domain.Message, error) {
	if !handled[m.Type] {
		return m, nil
	}
	t, err := decode(m.Payload)
	if err != nil {
		return m, err
	}
	api, err := newAPI(p, src)
	if err != nil {
		return m, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	f := fetched{At: now().UTC().Truncate(time.Millisecond)}
	switch t.Scope {
	case ScopeTransactionCreated, ScopeRefundCreated:
		n, err := t.orderID()
		if err != nil {
			return m, err
		}
		id := strconv.FormatInt(n, 10)
		if f.Order, err = api.get(ctx, "/v2/orders/"+id); err != nil {
			return m, err
		}
		if t.Scope == ScopeTransactionCreated {
			f.Transactions, err = api.get(ctx, "/v3/orders/"+id+"/transactions")
		} else {
			f.Refunds, err = api.get(ctx, "/v3/orders/"+id+"/payment_actions/refunds")
		}
		if err != nil {
			return m, err
		}
	case ScopeSKUInventoryUpdated, ScopeProductInventoryUpdated:
		inv := t.Data.Inventory
		if inv == nil || inv.ProductID == 0 {
			return m, webhook.Invalid("%s: data.inventory.product_id is missing; cannot look the SKU up", t.Scope)
		}
		path := "/v3/catalog/products/" + strconv.FormatInt(inv.ProductID, 10)
		if inv.VariantID != 0 {
			path += "/variants/" + strconv.FormatInt(inv.VariantID, 10)
			f.Variant, err = api.get(ctx, path)
		} else {
			f.Product, err = api.get(ctx, path)
		}
		if err != nil {
			return m, err
		}
	default:
		n, err := t.id()
		if err != nil {
			return m, err
		}
		id := strconv.FormatInt(n, 10)
		if f.Order, err = api.get(ctx, "/v2/orders/"+id); err != nil {
			return m, err
		}
		if f.Products, err = api.list(ctx, "/v2/orders/"+id+"/products"); err != nil {
			return m, err
		}
	}
	// Keep every field of the payload as BigCommerce sent it and add (or replace) "fetched".
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(m.Payload, &fields); err != nil {
		return m, webhook.Invalid("body is not a BigCommerce webhook payload: %v", err)
	}
	if fields["fetched"], err = json.Marshal(f); err != nil {
		return m, err
	}
	out := m
	if out.Payload, err = json.Marshal(fields); err != nil {
		return m, err
	}
	out.Unconfirmed = false
	return out, nil
}

// api calls one store's API.
type api struct {
	client *http.Client
	base   string // …/stores/{store_hash}
	token  string
}

func newAPI(p Provider, src domain.Source) (api, error) {
	hash, token := src.Settings["store_hash"], src.Settings["access_token"]
	if hash == "" || token == "" {
		return api{}, domain.Errorf(domain.EINVALID, "source %q lacks store_hash or access_token; BigCommerce payloads carry ids only and the store API is needed to complete them", src.ID)
	}
	base := src.Setting("api_base_url", DefaultAPIBaseURL)
	if err := checkBaseURL(base); err != nil {
		return api{}, err
	}
	c := p.Client
	if c == nil {
		c = defaultClient
	}
	return api{client: c, base: strings.TrimRight(base, "/") + "/stores/" + url.PathEscape(hash), token: token}, nil
}

// get returns the body of a GET of path; nil for 204 No Content.
func (a api) get(ctx context.Context, path string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return nil, domain.WrapError(err, domain.EINVALID, "bigcommerce: cannot build the store API request for "+path)
	}
	req.Header.Set("X-Auth-Token", a.token)
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		// The error names the URL, which holds no credential (the token is a header).
		return nil, domain.WrapError(err, domain.EUNAVAILABLE, "bigcommerce: the store API cannot be reached (GET "+path+"); retrying")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err == nil && len(body) > maxResponse {
		err = errors.New("response larger than 8 MiB")
	}
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return nil, nil
	case resp.StatusCode == http.StatusNotFound:
		return nil, domain.Errorf(domain.ENOTFOUND, "bigcommerce: GET %s: the store API answered 404; the resource was deleted or store_hash names another store", path)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, domain.Errorf(domain.EUNAVAILABLE, "bigcommerce: GET %s: the store API refused access_token (HTTP %d); give the API account read-only Orders and Products scopes, or a current token", path, resp.StatusCode)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, domain.Errorf(domain.EUNAVAILABLE, "bigcommerce: GET %s: the store API answered HTTP %d; retrying", path, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, domain.Errorf(domain.EINVALID, "bigcommerce: GET %s: the store API answered HTTP %d", path, resp.StatusCode)
	case err != nil:
		return nil, domain.WrapError(err, domain.EUNAVAILABLE, "bigcommerce: GET "+path+": reading the store API's answer failed; retrying")
	case !json.Valid(body):
		return nil, domain.Errorf(domain.EUNAVAILABLE, "bigcommerce: GET %s: the store API's answer is not JSON; retrying", path)
	}
	return body, nil
}

// list GETs every page of a v2 collection and returns one JSON array.
func (a api) list(ctx context.Context, path string) (json.RawMessage, error) {
	all := []json.RawMessage{}
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, domain.Errorf(domain.EINVALID, "bigcommerce: GET %s: more than %d pages", path, maxPages)
		}
		body, err := a.get(ctx, fmt.Sprintf("%s?limit=%d&page=%d", path, pageSize, page))
		if err != nil {
			return nil, err
		}
		if len(body) == 0 {
			break
		}
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, domain.WrapError(err, domain.EUNAVAILABLE, "bigcommerce: GET "+path+": the store API's answer is not a list; retrying")
		}
		all = append(all, items...)
		if len(items) < pageSize {
			break
		}
	}
	return json.Marshal(all)
}
