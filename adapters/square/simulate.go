package square

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string {
	return []string{
		"payment.updated", "payment.created", "refund.updated", "refund.created",
		"order.created", "order.updated", "inventory.count.updated",
		"dispute.created", "dispute.state.updated",
	}
}

// Flow implements webhook.Simulator: one order's life.
func (Provider) Flow() []string {
	return []string{"order.created", "payment.created", "payment.updated", "refund.created", "refund.updated"}
}

// RandomEventID returns a UUID-shaped id like Square's event_id.
func RandomEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Sample implements webhook.Simulator: payment.created is APPROVED, payment.updated
// COMPLETED, refund.created PENDING and refund.updated COMPLETED; dispute.created is a
// chargeback needing evidence on the order's payment, dispute.state.updated (and its old
// name dispute.state.changed) the same dispute LOST. Objects of one order share ids
// derived from the order ref. Amounts are written in Square's units (Units.ToProvider);
// one Square cannot write is EINVALID. The source needs notification_url.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if !handled[eventType] {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "square: cannot simulate %q; try one of: %s", eventType, strings.Join(p.SampleTypes(), ", "))
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "square: a signature key is needed (--secret …)")
	}
	nu := src.Settings[SettingNotificationURL]
	if nu == "" {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "square: the source needs notification_url, the URL Square signs")
	}
	if o.Quantity == 0 { // set before FillDefaults, whose default is 1
		o.Quantity = 10
	}
	o.FillDefaults()
	if o.EventID == "" {
		o.EventID = RandomEventID()
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	now := o.Now.UTC().Format("2006-01-02T15:04:05.000Z")
	cur := strings.ToUpper(o.Currency)
	value, err := Units.ToProvider(o.Amount, cur)
	if err != nil {
		return webhook.Request{}, err
	}
	amount := map[string]any{"amount": value, "currency": cur}
	payID := "sq_pay_" + o.OrderRef
	loc := src.Setting(SettingLocationID, "L1SIMULATED")

	var dataType, dataID string
	var obj map[string]any
	switch eventType {
	case "payment.created", "payment.updated":
		status, version := "APPROVED", 1
		if eventType == "payment.updated" {
			status, version = "COMPLETED", 2
		}
		dataType, dataID = "payment", payID
		obj = map[string]any{"payment": map[string]any{
			"id": payID, "status": status, "amount_money": amount, "total_money": amount, "approved_money": amount,
			"order_id": o.OrderRef, "reference_id": o.OrderRef, "location_id": loc, "source_type": "CARD",
			"created_at": now, "updated_at": now, "version": version,
		}}
	case "refund.created", "refund.updated":
		status := "PENDING"
		if eventType == "refund.updated" {
			status = "COMPLETED"
		}
		rid := "sq_ref_" + o.OrderRef
		dataType, dataID = "refund", rid
		obj = map[string]any{"refund": map[string]any{
			"id": rid, "status": status, "amount_money": amount, "payment_id": payID, "order_id": o.OrderRef,
			"location_id": loc, "reason": "Returned goods", "created_at": now, "updated_at": now,
		}}
	case "order.created", "order.updated":
		key := "order_created"
		version, state := 1, "OPEN"
		if eventType == "order.updated" {
			key, version = "order_updated", 2
		}
		dataType, dataID = "order", o.OrderRef
		obj = map[string]any{key: map[string]any{
			"order_id": o.OrderRef, "state": state, "version": version, "location_id": loc,
			"created_at": now, "updated_at": now,
		}}
	case "dispute.created", "dispute.state.updated", "dispute.state.changed":
		state, version := "EVIDENCE_REQUIRED", 1
		if eventType != "dispute.created" {
			state, version = "LOST", 2
		}
		did := "sq_dsp_" + o.OrderRef
		dataType, dataID = "dispute", did
		obj = map[string]any{"dispute": map[string]any{
			"id": did, "amount_money": amount, "reason": "NOT_RECEIVED", "state": state, "card_brand": "VISA",
			"disputed_payment": map[string]any{"payment_id": payID}, "location_id": loc,
			"due_at": o.Now.UTC().AddDate(0, 0, 14).Format("2006-01-02T15:04:05.000Z"), "reported_at": now,
			"created_at": now, "updated_at": now, "version": version,
		}}
	case "inventory.count.updated":
		dataType, dataID = "inventory_counts", o.SKU
		obj = map[string]any{"inventory_counts": []any{map[string]any{
			"catalog_object_id": o.SKU, "catalog_object_type": "ITEM_VARIATION", "state": "IN_STOCK",
			"location_id": loc, "quantity": fmt.Sprint(o.Quantity), "calculated_at": now,
		}}}
	}
	body, err := json.Marshal(map[string]any{
		"merchant_id": "MLSIMULATED", "type": eventType, "event_id": o.EventID, "created_at": now,
		"data": map[string]any{"type": dataType, "id": dataID, "object": obj},
	})
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Square-Version", "2024-06-04")
	h.Set(SignatureHeader, Sign(src.Secrets[0], nu, body))
	return webhook.Request{Header: h, Body: body}, nil
}
