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
	ID     string `json:"id"`
	Status string `json:"status"`
	Amount *money `json:"amount"`
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
		var ms []*money
		for _, pu := range r.PurchaseUnits {
			ms = append(ms, pu.Amount)
		}
		t := domain.PaymentAuthorized
		if e.EventType == "CHECKOUT.ORDER.COMPLETED" {
			t = domain.PaymentSucceeded
			var caps []*money
			for _, pu := range r.PurchaseUnits {
				for _, c := range pu.Payments.Captures {
					if c.Status == "COMPLETED" {
						caps = append(caps, c.Amount)
					}
				}
			}
			if len(caps) > 0 { // what was captured, not what was asked
				ms = caps
			}
		}
		amount, cur, err := sum(what, ms)
		if err != nil {
			return nil, err
		}
		return pay(t, r.ID, amount, cur, ""), nil

	case "PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.PENDING":
		amount, cur, err := r.Amount.minor(what)
		if err != nil {
			return nil, err
		}
		ref := firstNonEmpty(r.SupplementaryData.RelatedIDs.OrderID, r.ID)
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
		ref := firstNonEmpty(r.SupplementaryData.RelatedIDs.OrderID, r.SupplementaryData.RelatedIDs.CaptureID, r.upCapture(), r.ID)
		evs := pay(domain.PaymentRefunded, ref, amount, cur, r.NoteToPayer)
		evs[0].Payment.RefundRef = r.ID
		return evs, nil

	case "PAYMENT.SALE.COMPLETED":
		amount, cur, err := r.Amount.minor(what)
		if err != nil {
			return nil, err
		}
		return pay(domain.PaymentSucceeded, firstNonEmpty(r.ParentPayment, r.ID), amount, cur, ""), nil

	case "PAYMENT.SALE.REFUNDED":
		amount, cur, err := r.Amount.minor(what)
		if err != nil {
			return nil, err
		}
		if amount < 0 { // v1 refunds may state the total negative
			amount = -amount
		}
		evs := pay(domain.PaymentRefunded, firstNonEmpty(r.ParentPayment, r.SaleID), amount, cur, "")
		evs[0].Payment.RefundRef = r.ID
		return evs, nil

	case "PAYMENT.CAPTURE.REVERSED":
		// PayPal took a capture's money back, not at the merchant's request (a chargeback
		// through the card issuer, an unauthorised-payment claim): money out for good, as a
		// lost dispute is. The resource is the reversal (a refund-shaped object, its own
		// id) linking "up" to the capture. Keyed by that id, it is a dispute of its own.
		amount, cur, err := r.Amount.minor(what)
		if err != nil {
			return nil, err
		}
		ev.Type = domain.DisputeClosed
		ev.PaymentRef = firstNonEmpty(r.SupplementaryData.RelatedIDs.OrderID, r.SupplementaryData.RelatedIDs.CaptureID, r.upCapture(), r.ID)
		ev.Dispute = &domain.Dispute{Ref: "reversal:" + r.ID, Amount: amount, Currency: cur, Status: "reversed",
			Reason: firstNonEmpty(r.StatusDetails.Reason, r.NoteToPayer), Outcome: domain.DisputeLost, Stage: 1}
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
		d := &domain.Dispute{Ref: firstNonEmpty(r.DisputeID, r.ID), Amount: amount, Currency: cur, Status: strings.ToLower(r.Status), Reason: r.Reason}
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

// resolvedStage is above every lifecycle stage: a resolution is the last word on a
// dispute, whatever stage it names and whenever its updates arrive.
const resolvedStage = 5

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
