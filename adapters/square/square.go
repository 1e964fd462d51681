// Package square verifies and normalizes Square webhooks.
//
// Signature: x-square-hmacsha256-signature: base64(HMAC-SHA256(signature key,
// notification_url + body)). The URL is the exact notification URL configured in the
// Square Developer Dashboard, taken from the source's notification_url setting (never from
// the request: proxies rewrite URLs). No timestamp is signed. Dedupe on event_id.
//
// Quirks: Square money is in the currency's base unit ({"amount": 2500, "currency": "USD"}),
// ISO 4217's minor unit for every currency Square lists (Units).
// Payments name a Square order (order_id) and optionally the merchant's reference_id; the
// order ref is the Square order id unless the source sets order_ref_field: reference_id.
// order.created/order.updated carry the order's id, state and version only (no totals or
// lines): with an access_token, Fetch reads the order from the Orders API and Normalize
// emits a full snapshot; without one the snapshot holds the status alone.
// inventory.count.updated names catalog object ids, used as SKUs; only IN_STOCK counts are
// stock on hand. dispute.created and dispute.state.updated (dispute.state.changed in older
// API versions) are the dispute's state on its payment (disputed_payment.payment_id),
// staged inquiry → chargeback with an outcome per state (disputeStates): LOST and ACCEPTED
// are charged back.
package square

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of Square sources.
const Kind = "square"

// SignatureHeader carries Square's signature.
const SignatureHeader = "X-Square-Hmacsha256-Signature"

// Settings keys read from the source.
const (
	SettingNotificationURL = "notification_url"
	SettingOrderRefField   = "order_ref_field" // order_id (default) or reference_id
	SettingLocationID      = "location_id"     // optional: only stock counts of this location
	SettingAccessToken     = "access_token"    // optional: lets Fetch read full orders
	SettingAPIBaseURL      = "api_base_url"    // optional: default https://connect.squareup.com
)

// Provider is the Square adapter. The zero value is ready to use.
type Provider struct {
	// Client calls the Square API in Fetch; nil means a client with a 15 s timeout.
	Client *http.Client
}

var (
	_ domain.Provider   = Provider{}
	_ domain.Fetcher    = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	raw := src.Settings[SettingNotificationURL]
	if raw == "" {
		return domain.Errorf(domain.EINVALID, "notification_url: required for square sources; the exact URL configured in the Square dashboard (Webhooks → Subscriptions → Notification URL), e.g. https://shop.example.com/webhooks/%s", src.ID)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return domain.Errorf(domain.EINVALID, "notification_url: %q is not an absolute http(s) URL; copy it exactly from the Square dashboard", raw)
	}
	switch f := src.Settings[SettingOrderRefField]; f {
	case "", "order_id", "reference_id":
	default:
		return domain.Errorf(domain.EINVALID, "order_ref_field: %q is not valid; use order_id (the Square order id, the default) or reference_id (the payment's reference_id)", f)
	}
	if raw := src.Settings[SettingAPIBaseURL]; raw != "" {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return domain.Errorf(domain.EINVALID, "api_base_url: %q is not an absolute http(s) URL; leave it unset for https://connect.squareup.com", raw)
		}
	}
	if len(src.Secrets) == 0 {
		return domain.Errorf(domain.EINVALID, "secrets: a Square source needs the subscription's signature key (Webhooks → Subscriptions → Signature key)")
	}
	for i, s := range src.Secrets {
		if s == "" {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: empty; set it to the Square signature key or remove it", i)
		}
	}
	return nil
}

// Sign returns the x-square-hmacsha256-signature value of body for a notification URL.
func Sign(key, notificationURL string, body []byte) string {
	msg := make([]byte, 0, len(notificationURL)+len(body))
	msg = append(append(msg, notificationURL...), body...)
	return base64.StdEncoding.EncodeToString(webhook.HMACSHA256([]byte(key), msg))
}

// Verify implements domain.Provider.
func (Provider) Verify(_ context.Context, src domain.Source, d domain.Delivery) error {
	if err := webhook.RequireSecrets(src); err != nil {
		return err
	}
	nu := src.Settings[SettingNotificationURL]
	if nu == "" {
		return webhook.Reject("source %q has no notification_url; Square signs the notification URL, so set it to the exact URL configured in the Square dashboard", src.ID)
	}
	header := d.Header.Get(SignatureHeader)
	if header == "" {
		return webhook.Reject("x-square-hmacsha256-signature header is missing")
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil {
		return webhook.Reject("x-square-hmacsha256-signature is not base64")
	}
	msg := make([]byte, 0, len(nu)+len(d.Body))
	msg = append(append(msg, nu...), d.Body...)
	expected := make([][]byte, len(src.Secrets))
	for i, s := range src.Secrets {
		expected[i] = webhook.HMACSHA256([]byte(s), msg)
	}
	if !webhook.MatchAny(expected, [][]byte{sig}) {
		return webhook.Reject("signature matches no configured key; check the source's secret is the subscription's signature key and notification_url is exactly the URL configured in Square")
	}
	return nil
}

// event is Square's webhook envelope.
type event struct {
	MerchantID string `json:"merchant_id"`
	Type       string `json:"type"`
	EventID    string `json:"event_id"`
	CreatedAt  string `json:"created_at"`
	Data       struct {
		Type   string          `json:"type"`
		ID     string          `json:"id"`
		Object json.RawMessage `json:"object"`
	} `json:"data"`
	// FetchedOrder is the order as Fetch read it from the Orders API (order.* only).
	FetchedOrder *fullOrder `json:"tradewind_fetched_order,omitempty"`
}

func decode(body []byte) (event, error) {
	var e event
	if err := webhook.DecodeJSON(body, &e); err != nil {
		return e, webhook.Invalid("body is not a Square event: %v", err)
	}
	if e.EventID == "" || e.Type == "" {
		return e, webhook.Invalid("Square event lacks event_id or type")
	}
	return e, nil
}

// Parse implements domain.Provider.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	e, err := decode(d.Body)
	if err != nil {
		return nil, err
	}
	return []domain.Message{{ID: e.EventID, Type: e.Type, OccurredAt: webhook.ParseTime(e.CreatedAt), Payload: d.Body}}, nil
}

var handled = map[string]bool{
	"payment.created":         true,
	"payment.updated":         true,
	"refund.created":          true,
	"refund.updated":          true,
	"order.created":           true,
	"order.updated":           true,
	"inventory.count.updated": true,
	"dispute.created":         true,
	"dispute.state.updated":   true,
	"dispute.state.changed":   true, // the name dispute.state.updated had before Square API version 2021-04-21
}

// Handles implements domain.Provider.
func (Provider) Handles(eventType string) bool { return handled[eventType] }

type money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

func (m *money) normalize(what string) (int64, string, error) {
	if m == nil {
		return 0, "", webhook.Invalid("%s: amount_money is missing", what)
	}
	cur, err := domain.NormalizeCurrency(m.Currency)
	if err != nil {
		return 0, "", err
	}
	amount, err := Units.FromProvider(m.Amount, cur)
	if err != nil {
		return 0, "", err
	}
	return amount, cur, nil
}

type payment struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	AmountMoney *money `json:"amount_money"`
	OrderID     string `json:"order_id"`
	ReferenceID string `json:"reference_id"`
	CustomerID  string `json:"customer_id"`
	UpdatedAt   string `json:"updated_at"`
	CreatedAt   string `json:"created_at"`
	Version     int64  `json:"version"`
}

type refund struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	AmountMoney *money `json:"amount_money"`
	PaymentID   string `json:"payment_id"`
	OrderID     string `json:"order_id"`
	Reason      string `json:"reason"`
	UpdatedAt   string `json:"updated_at"`
	CreatedAt   string `json:"created_at"`
	Version     int64  `json:"version"`
}

// orderChange is order_created / order_updated: ids, state and version only.
type orderChange struct {
	OrderID   string `json:"order_id"`
	State     string `json:"state"`
	Version   int64  `json:"version"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type inventoryCount struct {
	CatalogObjectID string `json:"catalog_object_id"`
	State           string `json:"state"`
	LocationID      string `json:"location_id"`
	Quantity        string `json:"quantity"`
	CalculatedAt    string `json:"calculated_at"`
}

// squareDispute is a Square Dispute. Older API versions name its id dispute_id and
// (before disputed_payment) the payment payment_id.
type squareDispute struct {
	ID              string `json:"id"`
	DisputeID       string `json:"dispute_id"`
	AmountMoney     *money `json:"amount_money"`
	Reason          string `json:"reason"`
	State           string `json:"state"`
	DisputedPayment *struct {
		PaymentID string `json:"payment_id"`
	} `json:"disputed_payment"`
	PaymentID string `json:"payment_id"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Version   int64  `json:"version"`
}

// disputeStates places a Square dispute state in the dispute's lifecycle (domain.Dispute
// Stage and Outcome), per Square's DisputeState: an inquiry (1: INQUIRY_EVIDENCE_REQUIRED,
// INQUIRY_PROCESSING open; INQUIRY_CLOSED closed without a chargeback, nothing lost: won)
// can become a chargeback (2: EVIDENCE_REQUIRED, PROCESSING open; WON won; LOST and
// ACCEPTED, the seller accepted it, lost). A state of an older API version
// (WAITING_THIRD_PARTY, UNKNOWN_STATE) or one Square adds is an open chargeback.
var disputeStates = map[string]struct {
	stage   int
	outcome string
}{
	"INQUIRY_EVIDENCE_REQUIRED": {1, domain.DisputeOpen},
	"INQUIRY_PROCESSING":        {1, domain.DisputeOpen},
	"INQUIRY_CLOSED":            {1, domain.DisputeWon},
	"EVIDENCE_REQUIRED":         {2, domain.DisputeOpen},
	"PROCESSING":                {2, domain.DisputeOpen},
	"WON":                       {2, domain.DisputeWon},
	"LOST":                      {2, domain.DisputeLost},
	"ACCEPTED":                  {2, domain.DisputeLost},
}

// object is the union of data.object's keys Tradewind reads.
type object struct {
	Dispute         *squareDispute   `json:"dispute"`
	Payment         *payment         `json:"payment"`
	Refund          *refund          `json:"refund"`
	OrderCreated    *orderChange     `json:"order_created"`
	OrderUpdated    *orderChange     `json:"order_updated"`
	InventoryCounts []inventoryCount `json:"inventory_counts"`
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func first(ts ...string) time.Time {
	for _, s := range ts {
		if t := webhook.ParseTime(s); !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// Normalize implements domain.Provider.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	e, err := decode(m.Payload)
	if err != nil {
		return nil, err
	}
	if !handled[e.Type] {
		return nil, nil
	}
	var o object
	if len(e.Data.Object) == 0 {
		return nil, webhook.Invalid("%s: data.object is missing", e.Type)
	}
	if err := webhook.DecodeJSON(e.Data.Object, &o); err != nil {
		return nil, webhook.Invalid("%s: data.object: %v", e.Type, err)
	}
	base := domain.Event{Provider: Kind, Source: src.ID, EventID: e.EventID, OccurredAt: webhook.ParseTime(e.CreatedAt)}

	switch e.Type {
	case "payment.created", "payment.updated":
		p := o.Payment
		if p == nil || p.ID == "" {
			return nil, webhook.Invalid("%s: data.object.payment is missing", e.Type)
		}
		var t domain.EventType
		reason := ""
		switch p.Status {
		case "APPROVED":
			t = domain.PaymentAuthorized
		case "COMPLETED":
			t = domain.PaymentSucceeded
		case "FAILED", "CANCELED":
			t, reason = domain.PaymentFailed, strings.ToLower(p.Status)
		default: // PENDING: nothing has happened to money yet
			return nil, nil
		}
		amount, cur, err := p.AmountMoney.normalize(e.Type)
		if err != nil {
			return nil, err
		}
		ev := base
		ev.Type, ev.PaymentRef, ev.Version = t, p.ID, p.Version
		ev.OccurredAt = first(p.UpdatedAt, p.CreatedAt, e.CreatedAt)
		ev.OrderRef = p.OrderID
		if src.Settings[SettingOrderRefField] == "reference_id" {
			ev.OrderRef = p.ReferenceID
		}
		ev.CustomerRef = p.CustomerID
		ev.Payment = &domain.PaymentChange{Amount: amount, Currency: cur, Reason: reason}
		return []domain.Event{ev}, nil

	case "refund.created", "refund.updated":
		r := o.Refund
		if r == nil || r.ID == "" {
			return nil, webhook.Invalid("%s: data.object.refund is missing", e.Type)
		}
		if r.Status != "COMPLETED" { // PENDING, REJECTED, FAILED: no money moved
			return nil, nil
		}
		amount, cur, err := r.AmountMoney.normalize(e.Type)
		if err != nil {
			return nil, err
		}
		ev := base
		ev.Type, ev.PaymentRef, ev.Version = domain.PaymentRefunded, r.PaymentID, r.Version
		ev.OccurredAt = first(r.UpdatedAt, r.CreatedAt, e.CreatedAt)
		if src.Settings[SettingOrderRefField] != "reference_id" {
			ev.OrderRef = r.OrderID
		}
		ev.Payment = &domain.PaymentChange{Amount: amount, Currency: cur, RefundRef: r.ID, Reason: r.Reason}
		return []domain.Event{ev}, nil

	case "order.created", "order.updated":
		oc := o.OrderCreated
		if e.Type == "order.updated" {
			oc = o.OrderUpdated
		}
		if oc == nil || oc.OrderID == "" {
			return nil, webhook.Invalid("%s: data.object.order_%s is missing", e.Type, strings.TrimPrefix(e.Type, "order."))
		}
		ev := base
		ev.OrderRef, ev.Version = oc.OrderID, oc.Version
		ev.OccurredAt = first(oc.UpdatedAt, oc.CreatedAt, e.CreatedAt)
		state := oc.State
		snap := &domain.OrderSnapshot{}
		if fo := e.FetchedOrder; fo != nil && fo.ID == oc.OrderID && fo.Version >= oc.Version {
			// The order as it is now: a full snapshot at the order's newest version.
			if snap, err = fo.snapshot(); err != nil {
				return nil, err
			}
			state, ev.Version, ev.CustomerRef = fo.State, fo.Version, fo.CustomerID
			ev.OccurredAt = first(fo.UpdatedAt, fo.CreatedAt, e.CreatedAt)
		}
		switch state {
		case "CANCELED":
			ev.Type, snap.Status = domain.OrderCancelled, domain.StatusCancelled
		case "COMPLETED":
			ev.Type, snap.Status = domain.OrderFulfilled, domain.StatusFulfilled
		case "OPEN":
			ev.Type, snap.Status = domain.OrderUpdated, domain.StatusPlaced
			if e.Type == "order.created" {
				ev.Type = domain.OrderPlaced
			}
		default: // DRAFT: not placed yet
			return nil, nil
		}
		ev.Order = snap
		return []domain.Event{ev}, nil

	case "dispute.created", "dispute.state.updated", "dispute.state.changed":
		d := o.Dispute
		if d == nil {
			return nil, webhook.Invalid("%s: data.object.dispute is missing", e.Type)
		}
		ref := firstOf(d.ID, d.DisputeID, e.Data.ID)
		pay := d.PaymentID
		if d.DisputedPayment != nil && d.DisputedPayment.PaymentID != "" {
			pay = d.DisputedPayment.PaymentID
		}
		if ref == "" || pay == "" {
			return nil, webhook.Invalid("%s: the dispute lacks its id or disputed_payment.payment_id", e.Type)
		}
		amount, cur, err := d.AmountMoney.normalize(e.Type)
		if err != nil {
			return nil, err
		}
		st, ok := disputeStates[d.State]
		if !ok {
			st.stage, st.outcome = 2, domain.DisputeOpen
		}
		// A dispute names its payment, not the order: the payment's own events say
		// which order it belongs to, whichever arrives first.
		ev := base
		ev.Type, ev.PaymentRef = domain.DisputeOpened, pay
		ev.OccurredAt = first(d.UpdatedAt, d.CreatedAt, e.CreatedAt)
		ev.Dispute = &domain.Dispute{Ref: ref, Amount: amount, Currency: cur, Status: strings.ToLower(d.State), Reason: d.Reason,
			Stage: st.stage, Outcome: st.outcome}
		if ev.Dispute.Closed() {
			ev.Type = domain.DisputeClosed
		}
		return []domain.Event{ev}, nil

	case "inventory.count.updated":
		loc := src.Settings[SettingLocationID]
		var evs []domain.Event
		for _, c := range o.InventoryCounts {
			if c.State != "IN_STOCK" || (loc != "" && c.LocationID != loc) {
				continue
			}
			if c.CatalogObjectID == "" {
				return nil, webhook.Invalid("inventory.count.updated: a count lacks catalog_object_id")
			}
			q, err := quantity(c.Quantity)
			if err != nil {
				return nil, err
			}
			ev := base
			ev.Type = domain.InventoryLevelSet
			ev.EventID = e.EventID + ":" + c.CatalogObjectID + ":" + c.LocationID
			ev.OccurredAt = first(c.CalculatedAt, e.CreatedAt)
			ev.Stock = &domain.StockLevel{SKU: c.CatalogObjectID, OnHand: q}
			evs = append(evs, ev)
		}
		return evs, nil
	}
	return nil, nil
}

// quantity parses Square's decimal-string quantity; stock is whole units.
func quantity(s string) (int64, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if strings.Trim(frac, "0") != "" {
		return 0, webhook.Invalid("inventory quantity %q is not a whole number of units", s)
	}
	q, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, webhook.Invalid("inventory quantity %q is not a number", s)
	}
	return q, nil
}
