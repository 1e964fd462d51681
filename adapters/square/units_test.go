package square_test

import (
	"strings"
	"testing"

	"github.com/tradewind/tradewind/adapters/square"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// TestUnitsTable walks every currency of Square's base-unit table (developer.squareup.com
// "Working with Monetary Amounts"): Square's exponent, ISO 4217's, and one amount both ways.
func TestUnitsTable(t *testing.T) {
	rows := []struct {
		currency          string
		squareExp, isoExp int
		square, iso       int64
	}{
		{"AUD", 2, 2, 100, 100},
		{"CAD", 2, 2, 100, 100},
		{"EUR", 2, 2, 100, 100},
		{"GBP", 2, 2, 100, 100},
		{"JPY", 0, 0, 100, 100}, // ¥100
		{"USD", 2, 2, 400, 400},
	}
	seen := map[string]bool{}
	for _, r := range rows {
		t.Run(r.currency, func(t *testing.T) {
			seen[r.currency] = true
			if e, listed := square.Units.Exponent(r.currency); e != r.squareExp || !listed {
				t.Errorf("Square exponent = %d (listed %v), want %d", e, listed, r.squareExp)
			}
			if e := domain.CurrencyExponent(r.currency); e != r.isoExp {
				t.Errorf("ISO exponent = %d, want %d", e, r.isoExp)
			}
			if got, err := square.Units.FromProvider(r.square, r.currency); err != nil || got != r.iso {
				t.Errorf("FromProvider(%d) = %d, %v; want %d", r.square, got, err, r.iso)
			}
			if got, err := square.Units.ToProvider(r.iso, r.currency); err != nil || got != r.square {
				t.Errorf("ToProvider(%d) = %d, %v; want %d", r.iso, got, err, r.square)
			}
		})
	}
	for c := range square.Units.Exponents {
		if !seen[c] {
			t.Errorf("%s is in square.Units but has no row here", c)
		}
	}
}

// TestNormalizeJPY: Square's real payment.updated fixture in yen normalizes to ISO minor
// units of JPY, which are yen (¥1200 → 1200).
func TestNormalizeJPY(t *testing.T) {
	body := strings.ReplaceAll(string(read(t, "payment_updated_completed.body.json")), `{"amount":100,"currency":"USD"}`, `{"amount":1200,"currency":"JPY"}`)
	p := square.Provider{}
	msgs, err := p.Parse(src, domain.Delivery{Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := p.Normalize(src, msgs[0])
	if err != nil || len(evs) != 1 || evs[0].Payment == nil || evs[0].Payment.Amount != 1200 || evs[0].Payment.Currency != "JPY" {
		t.Fatalf("Normalize = %+v, %v; want 1200 JPY", evs, err)
	}
}

// TestSampleWritesSquareUnits: the simulator writes amount_money through Units, so a
// simulated yen payment says 1200 (Square's base unit, the yen) and a currency that is
// not an ISO code is refused rather than written.
func TestSampleWritesSquareUnits(t *testing.T) {
	p := square.Provider{}
	for _, typ := range []string{"payment.updated", "refund.updated", "dispute.created"} {
		t.Run(typ, func(t *testing.T) {
			r, err := p.Sample(src, typ, webhook.SampleOptions{EventID: "e1", OrderRef: "1", Amount: 1200, Currency: "jpy"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(r.Body), `"amount_money":{"amount":1200,"currency":"JPY"}`) {
				t.Errorf("body %s does not carry 1200 JPY in Square's units", r.Body)
			}
			if _, err := p.Sample(src, typ, webhook.SampleOptions{EventID: "e1", OrderRef: "1", Amount: 1200, Currency: "YENS"}); domain.ErrorCode(err) != domain.EINVALID {
				t.Errorf("Sample in YENS = %v, want %s", err, domain.EINVALID)
			}
		})
	}
}
