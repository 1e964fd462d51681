package stripe_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

// TestUnitsTable walks every currency Stripe's currencies page lists as zero-decimal,
// three-decimal or a special case, plus two-decimal ones it does not list: Stripe's
// exponent, ISO 4217's (table A.1, written here independently of domain.CurrencyExponent),
// and one amount in Stripe's units with its ISO minor units, both ways.
func TestUnitsTable(t *testing.T) {
	rows := []struct {
		currency          string
		stripeExp, isoExp int
		listed            bool
		stripe, iso       int64
	}{
		{"BIF", 0, 0, true, 5000, 5000},
		{"CLP", 0, 0, true, 15000, 15000},
		{"DJF", 0, 0, true, 5000, 5000},
		{"GNF", 0, 0, true, 50000, 50000},
		{"JPY", 0, 0, true, 1200, 1200},
		{"KMF", 0, 0, true, 5000, 5000},
		{"KRW", 0, 0, true, 15000, 15000},
		{"MGA", 0, 2, true, 5000, 500000}, // Ar 5,000: Stripe whole ariary, ISO 2 decimals
		{"PYG", 0, 0, true, 50000, 50000},
		{"RWF", 0, 0, true, 5000, 5000},
		{"UGX", 0, 0, true, 50000, 50000},
		{"VND", 0, 0, true, 250000, 250000},
		{"VUV", 0, 0, true, 5000, 5000},
		{"XAF", 0, 0, true, 5000, 5000},
		{"XOF", 0, 0, true, 5000, 5000},
		{"XPF", 0, 0, true, 5000, 5000},
		{"BHD", 3, 3, true, 5130, 5130},
		{"JOD", 3, 3, true, 5130, 5130},
		{"KWD", 3, 3, true, 10250, 10250},
		{"OMR", 3, 3, true, 5130, 5130},
		{"TND", 3, 3, true, 5130, 5130},
		{"ISK", 2, 0, true, 50000, 500}, // 500 kr.: Stripe writes two decimals, always 00
		{"HUF", 2, 2, true, 150000, 150000},
		{"TWD", 2, 2, true, 150000, 150000},
		{"USD", 2, 2, false, 2500, 2500},
		{"EUR", 2, 2, false, 2500, 2500},
		{"IDR", 2, 2, false, 1500000, 1500000},
	}
	seen := map[string]bool{}
	for _, r := range rows {
		t.Run(r.currency, func(t *testing.T) {
			seen[r.currency] = true
			if e, listed := stripe.Units.Exponent(r.currency); e != r.stripeExp || listed != r.listed {
				t.Errorf("Stripe exponent = %d (listed %v), want %d (listed %v)", e, listed, r.stripeExp, r.listed)
			}
			if e := domain.CurrencyExponent(r.currency); e != r.isoExp {
				t.Errorf("ISO exponent = %d, want %d", e, r.isoExp)
			}
			if got, err := stripe.Units.FromProvider(r.stripe, strings.ToLower(r.currency)); err != nil || got != r.iso {
				t.Errorf("FromProvider(%d) = %d, %v; want %d", r.stripe, got, err, r.iso)
			}
			if got, err := stripe.Units.ToProvider(r.iso, r.currency); err != nil || got != r.stripe {
				t.Errorf("ToProvider(%d) = %d, %v; want %d", r.iso, got, err, r.stripe)
			}
		})
	}
	for c := range stripe.Units.Exponents {
		if !seen[c] {
			t.Errorf("%s is in stripe.Units but has no row here", c)
		}
	}
}

func TestUnitsUnrepresentable(t *testing.T) {
	tests := []struct {
		name     string
		way      func(int64, string) (int64, error)
		amount   int64
		currency string
		want     string
	}{
		{"ISK not a multiple of 100", stripe.Units.FromProvider, 12345, "isk", "Stripe amount 12345 ISK (123.45 ISK, written with 2 decimals) has no exact value in ISO 4217 minor units of ISK (0 decimals); refusing to round"},
		{"KWD last digit not 0", stripe.Units.ToProvider, 5124, "KWD", "5.124 KWD is 5124 in Stripe's units, and Stripe takes KWD amounts only in multiples of 10"},
		{"MGA fraction of an ariary", stripe.Units.ToProvider, 150, "MGA", "1.50 MGA (ISO 4217 minor units 150) has no exact value in Stripe's units of MGA (0 decimals)"},
		{"not a currency", stripe.Units.FromProvider, 1, "us", "ISO 4217"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.way(tt.amount, tt.currency)
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("= %d, %v; want EINVALID containing %q", got, err, tt.want)
			}
		})
	}
}

// TestNormalizeCurrencyUnits: Stripe's real payment intent and charge fixtures (stripe/
// openapi fixtures3.json) with currency and amounts changed; every normalized amount is in
// ISO 4217 minor units. Expected values are worked out by hand: Stripe's ISK 50000 is
// 500 kr. (two decimals, always 00), ISO's 500; Stripe's MGA 5000 is Ar 5,000, ISO's 500000.
func TestNormalizeCurrencyUnits(t *testing.T) {
	tests := []struct {
		name     string
		currency string
		amount   int64 // Stripe's units, in every amount field the event reads
		want     int64 // ISO 4217 minor units
		wantErr  string
	}{
		{"usd unchanged", "usd", 1099, 1099, ""},
		{"isk: Stripe 2 decimals, ISO 0", "isk", 50000, 500, ""},
		{"mga: Stripe 0 decimals, ISO 2", "mga", 5000, 500000, ""},
		{"clp: 0 both", "clp", 15000, 15000, ""},
		{"jpy: 0 both", "jpy", 1200, 1200, ""},
		{"kwd: 3 both", "kwd", 10250, 10250, ""},
		{"bhd: 3 both", "bhd", 5130, 5130, ""},
		{"idr: 2 both (Stripe does not list it)", "idr", 1500000, 1500000, ""},
		{"cve: 2 both", "cve", 250000, 250000, ""},
		{"isk not a multiple of 100", "isk", 12345, 0, "Stripe amount 12345 ISK"},
	}
	types := []struct {
		typ, fixture string
		edit         func(o map[string]any, amount int64)
	}{
		{"payment_intent.succeeded", "openapi_fixture_payment_intent.json", func(o map[string]any, a int64) {
			o["amount"], o["amount_received"], o["status"] = a, a, "succeeded"
		}},
		{"payment_intent.amount_capturable_updated", "openapi_fixture_payment_intent.json", func(o map[string]any, a int64) {
			o["amount"], o["amount_capturable"], o["status"] = a, a, "requires_capture"
		}},
		{"charge.succeeded", "openapi_fixture_charge.json", func(o map[string]any, a int64) {
			o["amount"], o["amount_captured"], o["captured"] = a, a, true
		}},
		{"charge.refunded", "openapi_fixture_charge.json", func(o map[string]any, a int64) {
			o["amount"], o["amount_captured"], o["amount_refunded"], o["captured"] = a, a, a, true
		}},
	}
	for _, tt := range tests {
		for _, ty := range types {
			t.Run(tt.name+"/"+ty.typ, func(t *testing.T) {
				body := envelope(t, ty.typ, ty.fixture, func(o map[string]any) {
					o["currency"] = tt.currency
					ty.edit(o, tt.amount)
				})
				msgs, err := stripe.Provider{}.Parse(src, domain.Delivery{Body: body})
				if err != nil {
					t.Fatal(err)
				}
				evs, err := stripe.Provider{}.Normalize(src, msgs[0])
				if tt.wantErr != "" {
					if domain.ErrorCode(err) != domain.EINVALID || domain.ErrorReason(err) != domain.ReasonUnrepresentable || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("Normalize = %+v, %v; want a permanent EINVALID containing %q", evs, err, tt.wantErr)
					}
					return
				}
				if err != nil || len(evs) != 1 || evs[0].Payment == nil {
					t.Fatalf("Normalize = %+v, %v", evs, err)
				}
				want := domain.PaymentChange{Amount: tt.want, Currency: strings.ToUpper(tt.currency)}
				if diff := cmp.Diff(want, *evs[0].Payment); diff != "" {
					t.Errorf("payment (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestSimulatedNonISOCurrency: the simulator takes ISO minor units and writes Stripe's, so
// a simulated ISK payment normalizes back to what was asked.
func TestSimulatedNonISOCurrency(t *testing.T) {
	for _, c := range []struct {
		currency      string
		iso, inStripe int64
	}{{"ISK", 2790, 279000}, {"MGA", 500000, 5000}, {"USD", 2500, 2500}} {
		r, err := stripe.Provider{}.Sample(src, "payment_intent.succeeded", webhook.SampleOptions{OrderRef: "1001", Amount: c.iso, Currency: c.currency})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(r.Body), fmt.Sprintf(`"amount":%d,`, c.inStripe)) {
			t.Errorf("%s: simulated body %s lacks Stripe's amount %d", c.currency, r.Body, c.inStripe)
		}
		got := webhooktest.NormalizeAll(t, stripe.Provider{}, src, domain.Delivery{Body: r.Body})
		if len(got) != 1 || got[0].Payment.Amount != c.iso {
			t.Errorf("%s: normalized %+v, want %d", c.currency, got, c.iso)
		}
	}
	if _, err := (stripe.Provider{}).Sample(src, "payment_intent.succeeded", webhook.SampleOptions{Amount: 5124, Currency: "KWD"}); domain.ErrorReason(err) != domain.ReasonUnrepresentable {
		t.Errorf("Sample(KWD 5.124) = %v; Stripe takes KWD in steps of 10, want %s", err, domain.ReasonUnrepresentable)
	}
}
