package paypal_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

// TestUnitsTable walks every currency on PayPal's currency-codes page: PayPal's decimals,
// ISO 4217's, and one value as PayPal writes it, read into ISO minor units and written back.
func TestUnitsTable(t *testing.T) {
	rows := []struct {
		currency          string
		paypalExp, isoExp int
		value             string // as PayPal writes it
		iso               int64
	}{
		{"AUD", 2, 2, "12.34", 1234},
		{"BRL", 2, 2, "12.34", 1234},
		{"CAD", 2, 2, "12.34", 1234},
		{"CNY", 2, 2, "12.34", 1234},
		{"CZK", 2, 2, "12.34", 1234},
		{"DKK", 2, 2, "12.34", 1234},
		{"EUR", 2, 2, "12.34", 1234},
		{"HKD", 2, 2, "12.34", 1234},
		{"HUF", 0, 2, "1200", 120000},
		{"ILS", 2, 2, "12.34", 1234},
		{"INR", 2, 2, "12.34", 1234},
		{"JPY", 0, 0, "1200", 1200},
		{"MYR", 2, 2, "12.34", 1234},
		{"MXN", 2, 2, "12.34", 1234},
		{"TWD", 0, 2, "1200", 120000},
		{"NZD", 2, 2, "12.34", 1234},
		{"NOK", 2, 2, "12.34", 1234},
		{"PHP", 2, 2, "12.34", 1234},
		{"PLN", 2, 2, "12.34", 1234},
		{"GBP", 2, 2, "12.34", 1234},
		{"SGD", 2, 2, "12.34", 1234},
		{"SEK", 2, 2, "12.34", 1234},
		{"CHF", 2, 2, "12.34", 1234},
		{"THB", 2, 2, "12.34", 1234},
		{"USD", 2, 2, "12.34", 1234},
	}
	seen := map[string]bool{}
	for _, r := range rows {
		t.Run(r.currency, func(t *testing.T) {
			seen[r.currency] = true
			if e, listed := paypal.Units.Exponent(r.currency); e != r.paypalExp || !listed {
				t.Errorf("PayPal decimals = %d (listed %v), want %d", e, listed, r.paypalExp)
			}
			if e := domain.CurrencyExponent(r.currency); e != r.isoExp {
				t.Errorf("ISO exponent = %d, want %d", e, r.isoExp)
			}
			if got, err := paypal.Units.ParseDecimal(r.value, r.currency); err != nil || got != r.iso {
				t.Errorf("ParseDecimal(%q) = %d, %v; want %d", r.value, got, err, r.iso)
			}
			if got, err := paypal.Units.FormatDecimal(r.iso, r.currency); err != nil || got != r.value {
				t.Errorf("FormatDecimal(%d) = %q, %v; want %q", r.iso, got, err, r.value)
			}
		})
	}
	for c := range paypal.Units.Exponents {
		if !seen[c] {
			t.Errorf("%s is in paypal.Units but has no row here", c)
		}
	}
}

func TestUnitsUnrepresentable(t *testing.T) {
	for _, c := range []struct {
		currency string
		iso      int64
		want     string
	}{
		{"HUF", 100050, "1000.50 HUF (ISO 4217 minor units 100050) has no exact value in PayPal's units of HUF (0 decimals)"},
		{"TWD", 30001, "300.01 TWD"},
	} {
		got, err := paypal.Units.FormatDecimal(c.iso, c.currency)
		if domain.ErrorReason(err) != domain.ReasonUnrepresentable || !strings.Contains(err.Error(), c.want) {
			t.Errorf("FormatDecimal(%d %s) = %q, %v; want %s containing %q", c.iso, c.currency, got, err, domain.ReasonUnrepresentable, c.want)
		}
	}
}

// TestNormalizeNoDecimalCurrencies: PayPal's real CHECKOUT.ORDER.COMPLETED fixture (in
// JPY) restated in HUF and TWD, which PayPal writes without decimals and ISO with 2.
// Expected ISO minor units written by hand: 1200 Ft is 120000.
func TestNormalizeNoDecimalCurrencies(t *testing.T) {
	for _, c := range []struct {
		currency string
		want     int64
	}{{"JPY", 1200}, {"HUF", 120000}, {"TWD", 120000}} {
		body := bytes.ReplaceAll(read(t, "checkout_order_completed.body.json"), []byte(`"currency_code":"JPY"`), []byte(`"currency_code":"`+c.currency+`"`))
		msgs, err := paypal.Provider{}.Parse(domain.Source{}, domain.Delivery{Body: body})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := paypal.Provider{}.Normalize(domain.Source{}, msgs[0])
		if err != nil || len(evs) != 1 || evs[0].Payment == nil || evs[0].Payment.Amount != c.want || evs[0].Payment.Currency != c.currency {
			t.Errorf("%s: Normalize = %+v, %v; want %d", c.currency, evs, err, c.want)
		}
	}
}

// TestSampleWritesPayPalDecimals: the simulator writes every amount with PayPal's decimals,
// so a simulated HUF payment of 2500 Ft (ISO minor units 250000) says "2500", not
// "2500.00", and normalizes back to 250000; an amount PayPal cannot write is refused.
func TestSampleWritesPayPalDecimals(t *testing.T) {
	src := simSource(t)
	p := paypal.Provider{}
	for _, typ := range p.SampleTypes() {
		t.Run(typ, func(t *testing.T) {
			o := webhook.SampleOptions{EventID: "e-huf", OrderRef: "1001", Amount: 250000, Currency: "HUF", Now: now}
			r, err := p.Sample(src, typ, o)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(r.Body, []byte(`"2500.00"`)) || !bytes.Contains(r.Body, []byte(`"2500"`)) {
				t.Errorf("body %s does not write 2500 Ft as PayPal does (\"2500\")", r.Body)
			}
			msgs, err := p.Parse(src, webhooktest.Delivery(r, now))
			if err != nil {
				t.Fatal(err)
			}
			evs, err := p.Normalize(src, msgs[0])
			if err != nil || len(evs) != 1 {
				t.Fatalf("Normalize = %+v, %v", evs, err)
			}
			amount := int64(0)
			if e := evs[0]; e.Payment != nil {
				amount = e.Payment.Amount
			} else if e.Dispute != nil {
				amount = e.Dispute.Amount
			}
			if amount != 250000 {
				t.Errorf("normalized amount = %d, want 250000", amount)
			}
			o.Amount = 250050 // 2500.50 Ft
			if _, err := p.Sample(src, typ, o); domain.ErrorReason(err) != domain.ReasonUnrepresentable {
				t.Errorf("Sample(2500.50 HUF) = %v, want %s", err, domain.ReasonUnrepresentable)
			}
		})
	}
}
