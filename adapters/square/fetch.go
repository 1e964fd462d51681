package square

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// APIVersion is the Square-Version Fetch sends.
const APIVersion = "2024-06-04"

// fullOrder is the part of a Square Orders API order Tradewind reads.
type fullOrder struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	Version    int64  `json:"version"`
	CustomerID string `json:"customer_id,omitempty"`
	CreatedAt  string `json:"created_at,omitempty"`
	UpdatedAt  string `json:"updated_at,omitempty"`
	TotalMoney *money `json:"total_money"`
	LineItems  []struct {
		CatalogObjectID string `json:"catalog_object_id"`
		Name            string `json:"name"`
		Quantity        string `json:"quantity"`
		BasePriceMoney  *money `json:"base_price_money"`
	} `json:"line_items"`
}

func (o *fullOrder) snapshot() (*domain.OrderSnapshot, error) {
	total, cur, err := o.TotalMoney.normalize("order " + o.ID + " total_money")
	if err != nil {
		return nil, err
	}
	snap := &domain.OrderSnapshot{Currency: cur, Total: total}
	for i, li := range o.LineItems {
		q, err := quantity(li.Quantity)
		if err != nil {
			return nil, err
		}
		var price int64
		if li.BasePriceMoney != nil {
			p, c, err := li.BasePriceMoney.normalize("line item")
			if err != nil {
				return nil, err
			}
			if c != cur {
				return nil, webhook.Invalid("order %s: line %d is in %s, the order in %s", o.ID, i, c, cur)
			}
			price = p
		}
		sku := li.CatalogObjectID
		if sku == "" { // an ad hoc item has no catalog object
			sku = "square-item:" + li.Name
		}
		snap.Lines = append(snap.Lines, domain.Line{SKU: sku, Quantity: q, UnitPrice: price})
	}
	return snap, nil
}

var defaultClient = &http.Client{Timeout: 15 * time.Second}

// Fetch implements domain.Fetcher. order.created and order.updated carry no totals or
// lines, so when the source has an access_token Fetch reads the order with
// GET <api_base_url>/v2/orders/{order_id} and adds it to the payload under
// "tradewind_fetched_order"; Normalize then emits a full snapshot. Other messages, and
// every message of a source without access_token, are returned unchanged. Returns
// ENOTFOUND when Square answers 404, EUNAVAILABLE when it cannot be reached or answers
// 401/403/429/5xx (a bad token is fixed without losing the message), EINVALID otherwise.
func (p Provider) Fetch(ctx context.Context, src domain.Source, m domain.Message) (domain.Message, error) {
	token := src.Settings[SettingAccessToken]
	if token == "" || (m.Type != "order.created" && m.Type != "order.updated") {
		return m, nil
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(m.Payload, &env); err != nil {
		return m, webhook.Invalid("body is not a Square event: %v", err)
	}
	if _, done := env["tradewind_fetched_order"]; done {
		return m, nil
	}
	e, err := decode(m.Payload)
	if err != nil {
		return m, err
	}
	var o object
	if err := webhook.DecodeJSON(e.Data.Object, &o); err != nil {
		return m, webhook.Invalid("%s: data.object: %v", e.Type, err)
	}
	oc := o.OrderCreated
	if oc == nil {
		oc = o.OrderUpdated
	}
	if oc == nil || oc.OrderID == "" {
		return m, webhook.Invalid("%s: no order_id to fetch", e.Type)
	}
	base := strings.TrimRight(src.Setting(SettingAPIBaseURL, "https://connect.squareup.com"), "/")
	path := "/v2/orders/" + url.PathEscape(oc.OrderID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return m, domain.WrapError(err, domain.EINVALID, "square: api_base_url does not make a request URL")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Square-Version", APIVersion)
	req.Header.Set("Accept", "application/json")
	client := p.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return m, domain.WrapError(err, domain.EUNAVAILABLE, "square: GET "+path+": Square is unreachable; will retry")
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case err != nil:
		return m, domain.WrapError(err, domain.EUNAVAILABLE, "square: GET "+path+": reading the answer failed; will retry")
	case resp.StatusCode == http.StatusNotFound:
		return m, domain.Errorf(domain.ENOTFOUND, "square: GET %s: 404; the order is gone or access_token belongs to another seller", path)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return m, domain.Errorf(domain.EUNAVAILABLE, "square: GET %s: Square refused access_token (HTTP %d); give it ORDERS_READ", path, resp.StatusCode)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return m, domain.Errorf(domain.EUNAVAILABLE, "square: GET %s: HTTP %d; will retry", path, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return m, domain.Errorf(domain.EINVALID, "square: GET %s: HTTP %d", path, resp.StatusCode)
	}
	var body struct {
		Order json.RawMessage `json:"order"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.Order) == 0 {
		return m, domain.Errorf(domain.EUNAVAILABLE, "square: GET %s: the answer holds no order; will retry", path)
	}
	env["tradewind_fetched_order"] = body.Order
	payload, err := json.Marshal(env)
	if err != nil {
		return m, err
	}
	m.Payload = payload
	return m, nil
}
