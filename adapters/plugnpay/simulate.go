package plugnpay

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string { return []string{EventCallback} }

// Flow implements webhook.Simulator: the browser relays one callback per payment.
func (Provider) Flow() []string { return []string{EventCallback} }

// Sample implements webhook.Simulator: the success callback the browser posts to
// pb_success_url. Nothing is signed; register the body with a FakeGateway
// (ApproveCallback) for it to confirm.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if eventType != EventCallback {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "plugnpay: cannot simulate %q; try %s", eventType, EventCallback)
	}
	o.FillDefaults()
	if o.EventID == "" {
		o.EventID = fmt.Sprint(o.Now.UnixNano())
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	sum := sha256.Sum256([]byte("pnp:" + o.EventID))
	form := url.Values{
		"pt_order_id":           {"2026" + strings.ToUpper(hex.EncodeToString(sum[:8]))},
		"pt_order_classifier":   {o.OrderRef},
		"pi_response_status":    {"success"},
		"pi_response_code":      {"00"},
		"pt_transaction_amount": {domain.FormatMinorUnits(o.Amount, o.Currency)},
		"pt_currency":           {strings.ToUpper(o.Currency)},
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return webhook.Request{Header: h, Body: []byte(form.Encode())}, nil
}
