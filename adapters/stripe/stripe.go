// Package stripe verifies and normalizes Stripe webhooks.
//
// Signature: Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>[,v1=…],
// several v1 entries during secret rotation, 300 s tolerance. Dedupe on the event id.
//
// Money events: payment intents, charges, refunds by id (refund.created/updated/failed,
// charge.refund.updated: failed or canceled ones stop counting) and disputes through
// their lifecycle (created, updated, funds_withdrawn, funds_reinstated, closed: a dispute
// closed lost is charged_back). See docs/providers/stripe.md.
package stripe

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of Stripe sources.
const Kind = "stripe"

// SignatureHeader carries Stripe's signature.
const SignatureHeader = "Stripe-Signature"

// Provider is the Stripe adapter. The zero value is ready to use.
type Provider struct{}

var (
	_ domain.Provider   = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	if len(src.Secrets) == 0 {
		return domain.Errorf(domain.EINVALID, "secrets: list the endpoint's signing secret (whsec_…), newest first")
	}
	for i, s := range src.Secrets {
		if !strings.HasPrefix(s, "whsec_") {
			return domain.Errorf(domain.EINVALID, "secrets[%d]: a Stripe signing secret starts with whsec_ (Dashboard → Developers → Webhooks → Signing secret)", i)
		}
	}
	return nil
}

// Verify implements domain.Provider.
func (Provider) Verify(_ context.Context, src domain.Source, d domain.Delivery) error {
	return webhook.VerifyTimestamped(src, d.Header.Get(SignatureHeader), d.Body, d.ReceivedAt, webhook.DefaultTolerance)
}

// event is the part of Stripe's event envelope Tradewind reads.
type event struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

func decode(body []byte) (event, error) {
	var e event
	if err := json.Unmarshal(body, &e); err != nil {
		return e, webhook.Invalid("body is not a Stripe event: %v", err)
	}
	if e.ID == "" || e.Type == "" {
		return e, webhook.Invalid("Stripe event lacks id or type")
	}
	return e, nil
}

// Parse implements domain.Provider.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	e, err := decode(d.Body)
	if err != nil {
		return nil, err
	}
	return []domain.Message{{ID: e.ID, Type: e.Type, OccurredAt: unix(e.Created), Payload: d.Body}}, nil
}

func unix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// handled lists the event types Normalize applies.
var handled = map[string]bool{
	"payment_intent.succeeded":                 true,
	"payment_intent.payment_failed":            true,
	"payment_intent.amount_capturable_updated": true,
	"payment_intent.canceled":                  true,
	"charge.succeeded":                         true,
	"charge.refunded":                          true,
	"refund.created":                           true,
	"refund.updated":                           true,
	"refund.failed":                            true,
	"charge.refund.updated":                    true,
	"charge.dispute.created":                   true,
	"charge.dispute.updated":                   true,
	"charge.dispute.funds_withdrawn":           true,
	"charge.dispute.funds_reinstated":          true,
	"charge.dispute.closed":                    true,
	"checkout.session.completed":               true,
	"checkout.session.async_payment_succeeded": true,
	"checkout.session.async_payment_failed":    true,
}

// Handles implements domain.Provider.
func (Provider) Handles(eventType string) bool { return handled[eventType] }

// object is the union of the Stripe object fields Tradewind reads
// (payment intent, charge, refund, dispute, checkout session). Its amounts are in
// Stripe's units until toISO; an amount field added here must be added there.
type object struct {
	ID                string            `json:"id"`
	Amount            int64             `json:"amount"`
	AmountReceived    int64             `json:"amount_received"`
	AmountCapturable  int64             `json:"amount_capturable"`
	AmountCaptured    int64             `json:"amount_captured"`
	AmountRefunded    int64             `json:"amount_refunded"`
	AmountTotal       int64             `json:"amount_total"`
	Captured          bool              `json:"captured"`
	Currency          string            `json:"currency"`
	Metadata          map[string]string `json:"metadata"`
	PaymentIntent     json.RawMessage   `json:"payment_intent"` // an id, or the expanded object
	Charge            json.RawMessage   `json:"charge"`
	Status            string            `json:"status"`
	Reason            string            `json:"reason"`
	PaymentStatus     string            `json:"payment_status"`
	ClientReferenceID string            `json:"client_reference_id"`
	LastPaymentError  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"last_payment_error"`
	FailureMessage string `json:"failure_message"`
	FailureReason  string `json:"failure_reason"` // a refund's
}

// disputeStage places a dispute event in the dispute's lifecycle (domain.Dispute Stage
// and Outcome). Stripe's dispute statuses (docs.stripe.com/api/disputes/object):
// warning_needs_response, warning_under_review, needs_response and under_review while it
// is argued; won, lost, warning_closed (an inquiry that closed without a chargeback) and
// prevented (stopped before it became a chargeback) when it is over; charge_refunded,
// deprecated but still seen on old disputes, when the merchant refunded the charge.
//
// Opened and updated while it is argued: stage 1. Funds withdrawn: 2, still open
// (payment_status disputed). Closed: 3. A final status is final on any event: lost is
// lost; won, warning_closed, prevented and charge_refunded are won (the merchant keeps
// the money, or it left as the refund, which the refund events count: counting it again
// as a chargeback would take it off the books twice). Funds reinstated is won.
//
// charge.dispute.closed is final whatever its status: Stripe sends it once, when the
// dispute is over. A status Tradewind does not know on it closes the dispute as won, not
// open (an open dispute on a closed one would show the order disputed for ever) and not
// lost: Stripe states a chargeback as lost, and money is never taken off the books on a
// guess. A later lost fact about the same dispute still outranks it (domain.DisputeRank).
func disputeStage(eventType, status string) (int, string) {
	switch status {
	case "lost":
		return 3, domain.DisputeLost
	case "won", "warning_closed", "prevented", "charge_refunded":
		return 3, domain.DisputeWon
	}
	switch eventType {
	case "charge.dispute.closed", "charge.dispute.funds_reinstated":
		return 3, domain.DisputeWon
	case "charge.dispute.funds_withdrawn":
		return 2, domain.DisputeOpen
	}
	return 1, domain.DisputeOpen
}

// toISO converts the object's amounts from Stripe's units of cur (Units: Stripe writes
// ISK with two decimals and MGA with none, where ISO 4217 has 0 and 2) to ISO 4217 minor
// units, the unit of every normalized event. Returns EINVALID (unrepresentable_amount)
// for an amount with no exact ISO value.
func (o *object) toISO(cur string) error {
	for _, f := range []*int64{&o.Amount, &o.AmountReceived, &o.AmountCapturable, &o.AmountCaptured, &o.AmountRefunded, &o.AmountTotal} {
		v, err := Units.FromProvider(*f, cur)
		if err != nil {
			return err
		}
		*f = v
	}
	return nil
}

// ref returns the id of a field that is an id string or an expanded object.
func ref(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var o struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &o)
	return o.ID
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
	if err := json.Unmarshal(e.Data.Object, &o); err != nil {
		return nil, webhook.Invalid("%s: data.object: %v", e.Type, err)
	}
	cur := ""
	if o.Currency != "" {
		if cur, err = domain.NormalizeCurrency(o.Currency); err != nil {
			return nil, err
		}
		if err := o.toISO(cur); err != nil {
			return nil, err
		}
	}
	base := domain.Event{
		Provider:   Kind,
		Source:     src.ID,
		EventID:    e.ID,
		OccurredAt: unix(e.Created),
		OrderRef:   o.Metadata[src.OrderRefKey()],
	}
	pay := func(t domain.EventType, paymentRef string, amount int64, reason string) []domain.Event {
		ev := base
		ev.Type, ev.PaymentRef = t, paymentRef
		ev.Payment = &domain.PaymentChange{Amount: amount, Currency: cur, Reason: reason}
		return []domain.Event{ev}
	}
	// A charge or refund belongs to its payment intent when it has one, so that the
	// payment_intent.* and charge.* events about one payment meet on one payment.
	paymentRef := func(fallback string) string {
		if pi := ref(o.PaymentIntent); pi != "" {
			return pi
		}
		return fallback
	}

	switch e.Type {
	case "payment_intent.succeeded":
		return pay(domain.PaymentSucceeded, o.ID, o.AmountReceived, ""), nil
	case "payment_intent.amount_capturable_updated":
		return pay(domain.PaymentAuthorized, o.ID, o.AmountCapturable, ""), nil
	case "payment_intent.payment_failed", "payment_intent.canceled":
		reason := o.Status
		if o.LastPaymentError != nil {
			reason = strings.TrimSpace(o.LastPaymentError.Code + " " + o.LastPaymentError.Message)
		}
		return pay(domain.PaymentFailed, o.ID, o.Amount, reason), nil
	case "charge.succeeded":
		if !o.Captured {
			return pay(domain.PaymentAuthorized, paymentRef(o.ID), o.Amount, ""), nil
		}
		return pay(domain.PaymentSucceeded, paymentRef(o.ID), o.AmountCaptured, ""), nil
	case "charge.refunded":
		// amount_refunded is the charge's running total: a monotone fact.
		return pay(domain.PaymentRefunded, paymentRef(o.ID), o.AmountRefunded, ""), nil
	case "refund.created", "refund.updated", "refund.failed", "charge.refund.updated":
		// A refund by its id. One that failed or was canceled stops counting, whenever
		// that news arrives (Stripe: refund status pending, requires_action, succeeded,
		// failed or canceled; refund.failed is sent for the failure).
		evs := pay(domain.PaymentRefunded, paymentRef(ref(o.Charge)), o.Amount, o.Reason)
		if e.Type == "refund.failed" || o.Status == "failed" || o.Status == "canceled" {
			evs[0].Type = domain.RefundFailed
			evs[0].Payment.Reason = strings.TrimSpace(o.Status + " " + o.FailureReason)
		}
		evs[0].Payment.RefundRef = o.ID
		return evs, nil
	case "charge.dispute.created", "charge.dispute.updated", "charge.dispute.funds_withdrawn",
		"charge.dispute.funds_reinstated", "charge.dispute.closed":
		ev := base
		ev.PaymentRef = paymentRef(ref(o.Charge))
		d := &domain.Dispute{Ref: o.ID, Amount: o.Amount, Currency: cur, Status: o.Status, Reason: o.Reason}
		d.Stage, d.Outcome = disputeStage(e.Type, o.Status)
		ev.Type = domain.DisputeOpened
		if d.Closed() {
			ev.Type = domain.DisputeClosed
		}
		ev.Dispute = d
		return []domain.Event{ev}, nil
	case "checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed":
		if base.OrderRef == "" {
			base.OrderRef = o.ClientReferenceID
		}
		pr := paymentRef(o.ID)
		switch {
		case e.Type == "checkout.session.async_payment_failed":
			return pay(domain.PaymentFailed, pr, o.AmountTotal, "async_payment_failed"), nil
		case o.PaymentStatus == "paid" || o.PaymentStatus == "no_payment_required":
			return pay(domain.PaymentSucceeded, pr, o.AmountTotal, ""), nil
		default:
			return nil, nil // completed but paid later: async_payment_succeeded follows
		}
	}
	return nil, fmt.Errorf("stripe: unreachable event type %q", e.Type)
}
