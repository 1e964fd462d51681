package powertranz

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string { return []string{EventCallback} }

// Flow implements webhook.Simulator: the browser relays one callback per payment.
func (Provider) Flow() []string { return []string{EventCallback} }

func guid(seed string) string {
	s := sha256.Sum256([]byte(seed))
	h := hex.EncodeToString(s[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Sample implements webhook.Simulator: the HP0 callback of a Sale, posted as the browser
// does (form field Response). Nothing is signed; register the body with a FakeGateway
// (ApproveCallback) for it to confirm.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if eventType != EventCallback {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "powertranz: cannot simulate %q; try %s", eventType, EventCallback)
	}
	o.FillDefaults()
	if o.EventID == "" {
		o.EventID = fmt.Sprint(o.Now.UnixNano())
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	num := NumericCurrency(o.Currency)
	if num == "" {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "powertranz: %s: %v", o.Currency, errNoNumeric)
	}
	tok := sha256.Sum256([]byte("spi:" + o.EventID))
	cb := Callback{
		TransactionType: 2, Approved: false, TransactionIdentifier: guid("tx:" + o.EventID),
		TotalAmount: json.Number(domain.FormatMinorUnits(o.Amount, o.Currency)), CurrencyCode: num,
		IsoResponseCode: "HP0", ResponseMessage: "HPP preprocessing complete", OrderIdentifier: o.OrderRef,
		SpiToken: hex.EncodeToString(tok[:20]) + "-sim",
	}
	js, err := json.Marshal(cb)
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return webhook.Request{Header: h, Body: []byte(url.Values{"Response": {string(js)}}.Encode())}, nil
}
