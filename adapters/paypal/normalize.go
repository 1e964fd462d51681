package paypal

import (
	"encoding/json"
	"strings"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// money is a PayPal amount in either form: v2 {currency_code, value} or v1 {total, currency}.
type money struct {
	CurrencyCode string `json:"currency_code"`
	Value        string `json:"value"`
	Currency     string `json:"currency"`
	Total        string `json:"total"`
}

func (m *money) minor(what string) (int64, string, error) {
	if m == nil {
		return 0, "", webhook.Invalid("%s: amount is missing", what)
	}
	cur, val := m.CurrencyCode, m.Value
	if cur == "" && val == "" {
		cur, val = m.Currency, m.Total
	}
	c, err := domain.NormalizeCurrency(cur)
	if err != nil {
		return 0, "", err
	}
	v, err := Units.ParseDecimal(val, c)
	if err != nil {
		return 0, "", err
	}
	return v, c, nil
}

type link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

type capture struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Amount    *money `json:"amount"`
	CustomID  string `json:"custom_id"`
	InvoiceID string `json:"invoice_id"`
}

type purchaseUnit struct {
	ReferenceID string `json:"reference_id"`
	CustomID    string `json:"custom_id"`
	InvoiceID   string `json:"invoice_id"`
	Amount      *money `json:"amount"`
	Payments    struct {
		Captures []capture `json:"captures"`
	} `json:"payments"`
}

// resource is the union of the PayPal resources Tradewind reads: checkout order,
// capture, refund (v2), sale and refund (v1), dispute.
type resource struct {
	ID            string         `json:"id"`
	Status        string         `json:"status"`
	State         string         `json:"state"`
	Amount        *money         `json:"amount"`
	CustomID      string         `json:"custom_id"`
	InvoiceID     string         `json:"invoice_id"`
	Custom        string         `json:"custom"`
	InvoiceNumber string         `json:"invoice_number"`
	ParentPayment string         `json:"parent_payment"`
	SaleID        string         `json:"sale_id"`
	PurchaseUnits []purchaseUnit `json:"purchase_units"`
	Links         []link         `json:"links"`
	StatusDetails struct {
		Reason string `json:"reason"`
	} `json:"status_details"`
	SupplementaryData struct {
		RelatedIDs struct {
			OrderID   string `json:"order_id"`
			CaptureID string `json:"capture_id"`
		} `json:"related_ids"`
	} `json:"supplementary_data"`
	NoteToPayer string `json:"note_to_payer"`

	DisputeID      string `json:"dispute_id"`
	Reason         string `json:"reason"`
	DisputeAmount  *money `json:"dispute_amount"`
	DisputeOutcome struct {
		OutcomeCode string `json:"outcome_code"`
	} `json:"dispute_outcome"`
	LifeCycleStage       string `json:"dispute_life_cycle_stage"`
	DisputedTransactions []struct {
		SellerTransactionID string `json:"seller_transaction_id"`
		Custom              string `json:"custom"`
		InvoiceNumber       string `json:"invoice_number"`
	} `json:"disputed_transactions"`
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// orderRef is custom_id, else invoice_id (v1: custom, else invoice_number).
func (r resource) orderRef() string {
	if ref := firstNonEmpty(r.CustomID, r.InvoiceID, r.Custom, r.InvoiceNumber); ref != "" {
		return ref
	}
	for _, pu := range r.PurchaseUnits {
		if ref := firstNonEmpty(pu.CustomID, pu.InvoiceID); ref != "" {
			return ref
		}
	}
	return ""
}

// upCapture is the capture id a v2 refund links to as "up".
func (r resource) upCapture() string {
	for _, l := range r.Links {
		if l.Rel == "up" {
			if i := strings.LastIndex(l.Href, "/captures/"); i >= 0 {
				return strings.Trim(l.Href[i+len("/captures/"):], "/")
			}
		}
	}
	return ""
}

// sum adds amounts of one currency.
func sum(what string, ms []*money) (int64, string, error) {
	var total int64
	cur := ""
	for _, m := range ms {
		v, c, err := m.minor(what)
		if err != nil {
			return 0, "", err
		}
		if cur != "" && c != cur {
			return 0, "", webhook.Invalid("%s: purchase units in %s and %s; Tradewind needs one currency per order", what, cur, c)
		}
		cur, total = c, total+v
	}
	if cur == "" {
		return 0, "", webhook.Invalid("%s: no amount", what)
	}
	return total, cur, nil
}

// Payment refs. A PayPal payment is keyed by the id of its money movement: the capture
// (v2) or the sale (v1). That is the id every later fact about the money names: a refund
// links "up" to its capture (v1: sale_id), a reversal too, and a dispute names it as
// disputed_transactions[].seller_transaction_id. The checkout order id (PAY-… for v1) is
// only named by the capture events' supplementary_data.related_ids.order_id and by the
// CHECKOUT.ORDER.* events, so keyed by it a dispute or a reversal without custom_id or
// invoice_id could not find its order. Only an approval (nothing captured yet) is keyed
// by the checkout order id.

// captureRef is the capture a refund or a reversal belongs to: related_ids.capture_id,
// else the capture it links "up" to, else the related order id, else its own id.
func (r resource) captureRef() string {
	return firstNonEmpty(r.SupplementaryData.RelatedIDs.CaptureID, r.upCapture(), r.SupplementaryData.RelatedIDs.OrderID, r.ID)
}

// disputeKey is the key of the dispute facts about the transaction paymentRef (the
// capture or sale): "transaction:<id>". A PayPal dispute and the reversal it causes
// (PAYMENT.CAPTURE.REVERSED) name nothing of each other but the capture, so keying both
// by it makes them one fact, whose money out counts once. PayPal holds one case per
// transaction, moved through its stages (inquiry, claim, appeals) until resolved. Without
// a transaction the fact is keyed by fallback, its own id.
func disputeKey(paymentRef, fallback string) string {
	if paymentRef == "" {
		return fallback
	}
	return "transaction:" + paymentRef
}

// Normalize implements domain.Provider.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	e, err := decode(m.Payload)
	if err != nil {
		return nil, err
	}
	if !handled[e.EventType] {
		return nil, nil
	}
	var r resource
	if len(e.Resource) == 0 {
		return nil, webhook.Invalid("%s: resource is missing", e.EventType)
	}
	if err := json.Unmarshal(e.Resource, &r); err != nil {
		return nil, webhook.Invalid("%s: resource: %v", e.EventType, err)
	}
	ev := domain.Event{Provider: Kind, Source: src.ID, EventID: e.ID, OccurredAt: webhook.ParseTime(e.CreateTime), OrderRef: r.orderRef()}
	pay := func(t domain.EventType, ref string, amount int64, cur, reason string) []domain.Event {
		ev.Type, ev.PaymentRef = t, ref
		ev.Payment = &domain.PaymentChange{Amount: amount, Currency: cur, Reason: reason}
		return []domain.Event{ev}
	}
	what := e.EventType
	switch e.EventType {
	case "CHECKOUT.ORDER.APPROVED", "CHECKOUT.ORDER.COMPLETED":
		if e.EventType == "CHECKOUT.ORDER.COMPLETED" {
			if evs, err := completedCaptures(ev, r); len(evs) > 0 || err != nil {
				return evs, err
			}
		}
		// Approved, or completed with nothing captured yet (an AUTHORIZE intent, a capture
		// still pending): authorized, keyed by the checkout order id; the capture events
		// say when the money moved.
		var ms []*money
		for _, pu := range r.PurchaseUnits {
			ms = append(ms, pu.Amount)
		}
		amount, cur, err := sum(what, ms)
		if err != nil {
			return nil, err
		}
		return pay(domain.PaymentAuthorized, r.ID, amount, cur, ""), nil

	case "PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.PENDING":
		amount, cur, err := r.Amount.minor(what)
		if err != nil {
			return nil, err
		}
		ref := r.ID
		switch e.EventType {
		case "PAYMENT.CAPTURE.COMPLETED":
			return pay(domain.PaymentSucceeded, ref, amount, cur, ""), nil
		case "PAYMENT.CAPTURE.DENIED":
			return pay(domain.PaymentFailed, ref, amount, cur, firstNonEmpty(r.StatusDetails.Reason, "denied")), nil
		default: // pending: held, not yet money
			return pay(domain.PaymentAuthorized, ref, amount, cur, r.StatusDetails.Reason), nil
		}

	case "PAYMENT.CAPTURE.REFUNDED":
		amount, cur, err := r.Amount.minor(what)
		if err != nil {
			return nil, err
		}
		evs := pay(domain.PaymentRefunded, r.captureRef(), amount, cur, r.NoteToPayer)
		evs[0].Payment.RefundRef = r.ID
		return evs, nil

	case "PAYMENT.SALE.COMPLETED":
		amount, cur, err := r.Amount.minor(what)
		if err != nil {
			return nil, err
		}
		return pay(domain.PaymentSucceeded, r.ID, amount, cur, ""), nil

	case "PAYMENT.SALE.REFUNDED":
		amount, cur, err := r.Amount.minor(what)
		if err != nil {
			return nil, err
		}
		if amount < 0 { // v1 refunds may state the total negative
			amount = -amount
		}
		evs := pay(domain.PaymentRefunded, firstNonEmpty(r.SaleID, r.ParentPayment), amount, cur, "")
		evs[0].Payment.RefundRef = r.ID
		return evs, nil

	case "PAYMENT.CAPTURE.REVERSED":
		// PayPal took a capture's money back, not at the merchant's request (a chargeback
		// through the card issuer, an unauthorised-payment claim): money out for good, as a
		// lost dispute is. The resource is the reversal (a refund-shaped object, its own
		// id) linking "up" to the capture: PayPal's published sample names nothing else, no
		// custom_id, so the capture is what leads to the order. It is a fact about the
		// capture's dispute (disputeKey), above every open stage and below the resolution
		// (reversalStage): a dispute PayPal reversed the money for and the reversal it caused
		// count once, and a resolution for the seller brings the money back.
		amount, cur, err := r.Amount.minor(what)
		if err != nil {
			return nil, err
		}
		ev.Type = domain.DisputeClosed
		ev.PaymentRef = r.captureRef()
		ev.Dispute = &domain.Dispute{Ref: disputeKey(ev.PaymentRef, "reversal:"+r.ID), Amount: amount, Currency: cur, Status: "reversed",
			Reason: firstNonEmpty(r.StatusDetails.Reason, r.NoteToPayer), Outcome: domain.DisputeLost, Stage: reversalStage}
		return []domain.Event{ev}, nil

	case "CUSTOMER.DISPUTE.CREATED", "CUSTOMER.DISPUTE.UPDATED", "CUSTOMER.DISPUTE.RESOLVED":
		amount, cur, err := r.DisputeAmount.minor(what)
		if err != nil {
			return nil, err
		}
		if len(r.DisputedTransactions) > 0 {
			dt := r.DisputedTransactions[0]
			ev.PaymentRef = dt.SellerTransactionID
			if ev.OrderRef == "" {
				ev.OrderRef = firstNonEmpty(dt.Custom, dt.InvoiceNumber)
			}
		}
		d := &domain.Dispute{Ref: disputeKey(ev.PaymentRef, firstNonEmpty(r.DisputeID, r.ID)), Amount: amount, Currency: cur, Status: strings.ToLower(r.Status), Reason: r.Reason}
		d.Stage, d.Outcome = disputeStage(e.EventType, r.Status, r.LifeCycleStage, r.DisputeOutcome.OutcomeCode)
		if e.EventType == "CUSTOMER.DISPUTE.RESOLVED" || r.Status == "RESOLVED" {
			d.Status = firstNonEmpty(strings.ToLower(r.DisputeOutcome.OutcomeCode), "resolved")
			switch d.Outcome {
			case domain.DisputeWon:
				d.Status = "won"
			case domain.DisputeLost:
				d.Status = "lost"
			}
		}
		ev.Type, ev.Dispute = domain.DisputeOpened, d
		if d.Closed() {
			ev.Type = domain.DisputeClosed
		}
		return []domain.Event{ev}, nil
	}
	return nil, nil
}

// disputeStages are PayPal's dispute_life_cycle_stage values in order: an inquiry between
// buyer and merchant, a claim PayPal decides (CHARGEBACK: PayPal's claim stage, not a
// card chargeback), then the merchant's appeals (developer.paypal.com "Disputes lifecycle
// stages reference"). A dispute without a stage is an inquiry.
var disputeStages = map[string]int{"INQUIRY": 1, "CHARGEBACK": 2, "PRE_ARBITRATION": 3, "ARBITRATION": 4}

// reversalStage is a PAYMENT.CAPTURE.REVERSED: above every lifecycle stage (the money is
// out, whatever stage the case was argued at: charged_back) and below the resolution.
const reversalStage = 5

// resolvedStage is above every other stage: a resolution is the last word on a dispute,
// whatever stage it names and whenever its updates arrive. Resolved for the seller after
// a reversal, the money came back; for the buyer, it is the reversal's money, once.
const resolvedStage = 6

// disputeStage places a dispute event in the dispute's lifecycle (domain.Dispute Stage and
// Outcome). CREATED and UPDATED are open at their dispute_life_cycle_stage. RESOLVED (or
// any event whose status is RESOLVED) is final, with the outcome of dispute_outcome.
// outcome_code: RESOLVED_BUYER_FAVOUR and ACCEPTED (the merchant accepted the claim) are
// lost, the money went to the buyer; RESOLVED_SELLER_FAVOUR, CANCELED_BY_BUYER, DENIED
// (the claim was denied) and RESOLVED_WITH_PAYOUT (PayPal paid the buyer itself) are won:
// the merchant keeps the money. NONE or a code PayPal adds closes the dispute with nothing
// lost as far as Tradewind can tell (won).
func disputeStage(eventType, status, lifeCycle, outcomeCode string) (int, string) {
	if eventType != "CUSTOMER.DISPUTE.RESOLVED" && status != "RESOLVED" {
		stage := disputeStages[lifeCycle]
		if stage == 0 {
			stage = 1
		}
		return stage, domain.DisputeOpen
	}
	switch outcomeCode {
	case "RESOLVED_BUYER_FAVOUR", "ACCEPTED":
		return resolvedStage, domain.DisputeLost
	}
	return resolvedStage, domain.DisputeWon
}

// completedCaptures are a CHECKOUT.ORDER.COMPLETED's completed captures, one
// PaymentSucceeded each, keyed by the capture id as PAYMENT.CAPTURE.COMPLETED keys it, so
// the two meet on one payment. The order ref is the purchase unit's (else the capture's,
// else the order's). One capture keeps the event id; several are told apart by
// "<event id>:capture:<capture id>", as each is a fact of its own.
func completedCaptures(base domain.Event, r resource) ([]domain.Event, error) {
	var evs []domain.Event
	for _, pu := range r.PurchaseUnits {
		for _, c := range pu.Payments.Captures {
			if c.Status != "COMPLETED" {
				continue
			}
			amount, cur, err := c.Amount.minor("CHECKOUT.ORDER.COMPLETED capture " + c.ID)
			if err != nil {
				return nil, err
			}
			ev := base
			ev.Type, ev.PaymentRef = domain.PaymentSucceeded, firstNonEmpty(c.ID, r.ID)
			ev.OrderRef = firstNonEmpty(pu.CustomID, pu.InvoiceID, c.CustomID, c.InvoiceID, base.OrderRef)
			ev.Payment = &domain.PaymentChange{Amount: amount, Currency: cur}
			evs = append(evs, ev)
		}
	}
	if len(evs) > 1 {
		for i := range evs {
			evs[i].EventID = base.EventID + ":capture:" + evs[i].PaymentRef
		}
	}
	return evs, nil
}
