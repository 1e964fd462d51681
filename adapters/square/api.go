package square

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

// DefaultAPIBaseURL is Square's production API, used when a source sets no api_base_url.
const DefaultAPIBaseURL = "https://connect.squareup.com"

// listLimit is the page size asked for: Square's maximum for ListPayments.
const listLimit = 100

// maxListResponse bounds one list page's body.
const maxListResponse = 16 << 20

// API lists a Square seller's payments over Square's REST API:
// GET /v2/payments with begin_time (inclusive) and end_time on the payments'
// created_at, sort_order ASC, limit and the answer's cursor, with the
// source's access token (PAYMENTS_READ) and location_id when set. A 429 is
// waited out for its Retry-After and a failing page is retried, then reported.
type API struct {
	BaseURL    string
	Token      string
	LocationID string
	HTTP       *http.Client

	// Sleep, Attempts and OnRetry: how a failing page is retried.
	providerapi.Retry
}

// NewAPI returns the API client of a Square source. Returns EINVALID when the
// source has no access_token or a malformed api_base_url.
func NewAPI(src domain.Source, hc *http.Client) (*API, error) {
	tok := src.Setting(SettingAccessToken, "")
	if tok == "" {
		return nil, domain.Errorf(domain.EINVALID, "source %s: access_token: set a Square access token with PAYMENTS_READ (and ORDERS_READ for order events), e.g. access_token: env:SQUARE_ACCESS_TOKEN, to reconcile it", src.ID)
	}
	base, err := providerapi.BaseURL(src, DefaultAPIBaseURL, "leave it out for "+DefaultAPIBaseURL)
	if err != nil {
		return nil, err
	}
	return &API{BaseURL: base, Token: tok, LocationID: src.Setting(SettingLocationID, ""), HTTP: providerapi.HTTPClient(hc)}, nil
}

// paymentList is ListPayments' answer: {"payments":[…],"cursor":"…"}.
type paymentList struct {
	Payments []json.RawMessage `json:"payments"`
	Cursor   string            `json:"cursor"`
}

// Payments lists the payments created in [since, until), oldest first, page by
// page. An error ends the listing: it is yielded once, after everything listed
// before it.
func (a *API) Payments(ctx context.Context, since, until time.Time) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		q := url.Values{}
		q.Set("begin_time", since.UTC().Format(time.RFC3339Nano))
		q.Set("end_time", until.UTC().Format(time.RFC3339Nano))
		q.Set("sort_order", "ASC")
		q.Set("limit", strconv.Itoa(listLimit))
		if a.LocationID != "" {
			q.Set("location_id", a.LocationID)
		}
		c := a.client()
		for page := 1; ; page++ {
			var l paymentList
			if _, err := c.Get(ctx, a.BaseURL+"/v2/payments?"+q.Encode(), fmt.Sprintf("/v2/payments page %d", page), &l); err != nil {
				yield(nil, err)
				return
			}
			for _, p := range l.Payments {
				if !yield(p, nil) {
					return
				}
			}
			if l.Cursor == "" {
				return
			}
			q.Set("cursor", l.Cursor)
		}
	}
}

func (a *API) client() *providerapi.Client {
	return &providerapi.Client{
		HTTP: a.HTTP,
		Authorize: func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+a.Token)
			r.Header.Set("Square-Version", APIVersion)
		},
		Name:         "square GET",
		Body:         "Square's payments JSON",
		MaxBody:      maxListResponse,
		Unauthorized: "the access_token was refused; give a token with PAYMENTS_READ",
		ErrorText:    squareError,
		Retry:        a.Retry,
	}
}

// squareError is the first error of Square's body {"errors":[{"category","code","detail"}]}.
func squareError(body []byte) string {
	var e struct {
		Errors []struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code + ": " + e.Errors[0].Detail
}

// PaymentState is a listed payment as the reconciliation compares and repairs it.
type PaymentState struct {
	ID        string
	OrderRef  string
	UpdatedAt time.Time
	State     domain.HeldState
	// RefundIDs are the payment's refunds; RefundedMoney their sum.
	RefundIDs []string
	Raw       json.RawMessage
}

// listedPayment is the part of a Square Payment object the reconciliation reads.
type listedPayment struct {
	payment
	RefundedMoney *money   `json:"refunded_money"`
	RefundIDs     []string `json:"refund_ids"`
}

// Payment reads a listed Square Payment into the terms domain.ComparePayment
// compares: COMPLETED is captured, APPROVED authorized, FAILED and CANCELED
// failed, each for amount_money (without tip, as the webhooks are read), and
// refunded_money refunded.
func Payment(src domain.Source, raw json.RawMessage) (PaymentState, error) {
	var p listedPayment
	if err := json.Unmarshal(raw, &p); err != nil || p.ID == "" {
		return PaymentState{}, fmt.Errorf("payment: not a Square payment: %v", err)
	}
	amount, cur, err := p.AmountMoney.normalize("payment " + p.ID)
	if err != nil {
		return PaymentState{}, err
	}
	var refunded int64
	if p.RefundedMoney != nil && p.RefundedMoney.Amount > 0 {
		r, rc, err := p.RefundedMoney.normalize("payment " + p.ID + " refunded_money")
		if err != nil {
			return PaymentState{}, err
		}
		if rc != cur {
			return PaymentState{}, fmt.Errorf("payment %s: refunded in %s, paid in %s", p.ID, rc, cur)
		}
		refunded = r
	}
	var authorized, captured int64
	failed := false
	switch p.Status {
	case "COMPLETED":
		captured = amount
	case "APPROVED":
		authorized = amount
	case "FAILED", "CANCELED":
		failed = true
	}
	ref := p.OrderID
	if src.Settings[SettingOrderRefField] == "reference_id" {
		ref = p.ReferenceID
	}
	return PaymentState{ID: p.ID, OrderRef: ref, UpdatedAt: first(p.UpdatedAt, p.CreatedAt),
		State: domain.PaymentHeldState(authorized, captured, refunded, cur, failed), RefundIDs: p.RefundIDs, Raw: raw}, nil
}

// PaymentEvent is the payment.updated event Square's webhook would have
// carried for a listed payment (its Payment object is the webhook's
// data.object.payment), under eventID.
func PaymentEvent(p PaymentState, eventID string) (json.RawMessage, error) {
	return json.Marshal(map[string]any{
		"type": "payment.updated", "event_id": eventID,
		"created_at": p.UpdatedAt.Format(time.RFC3339Nano),
		"data":       map[string]any{"type": "payment", "id": p.ID, "object": map[string]json.RawMessage{"payment": p.Raw}},
	})
}

// RefundEvent is the refund.updated event of a payment's one refund, as far as
// the payment states it: its id, refunded_money, COMPLETED. Returns false when
// the payment has not exactly one refund (their amounts are not listed apart).
func RefundEvent(p PaymentState, eventID string) (json.RawMessage, bool, error) {
	if len(p.RefundIDs) != 1 {
		return nil, false, nil
	}
	var x struct {
		OrderID       string          `json:"order_id"`
		LocationID    string          `json:"location_id"`
		RefundedMoney json.RawMessage `json:"refunded_money"`
	}
	if err := json.Unmarshal(p.Raw, &x); err != nil || len(x.RefundedMoney) == 0 {
		return nil, false, err
	}
	at := p.UpdatedAt.Format(time.RFC3339Nano)
	b, err := json.Marshal(map[string]any{
		"type": "refund.updated", "event_id": eventID, "created_at": at,
		"data": map[string]any{"type": "refund", "id": p.RefundIDs[0], "object": map[string]any{"refund": map[string]any{
			"id": p.RefundIDs[0], "status": "COMPLETED", "amount_money": x.RefundedMoney, "payment_id": p.ID,
			"order_id": x.OrderID, "location_id": x.LocationID, "created_at": at, "updated_at": at,
		}}},
	})
	return b, err == nil, err
}
