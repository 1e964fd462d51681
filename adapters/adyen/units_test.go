package adyen_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/adyen"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// unitRow is one currency of a provider's table: the decimals the provider documents,
// ISO 4217's, and one amount in the provider's units with its value in ISO minor units.
type unitRow struct {
	currency         string
	adyenExp, isoExp int
	adyen, iso       int64
}

// TestUnitsTable walks every currency on Adyen's currency-codes page (docs.adyen.com/
// development-resources/currency-codes): its exponent, and 123400 in Adyen's units to ISO
// 4217 minor units and back. The ISO column is ISO 4217's table A.1, written here
// independently of domain.CurrencyExponent.
func TestUnitsTable(t *testing.T) {
	rows := []unitRow{
		{"AED", 2, 2, 123400, 123400},
		{"ALL", 2, 2, 123400, 123400},
		{"AMD", 2, 2, 123400, 123400},
		{"AOA", 2, 2, 123400, 123400},
		{"ARS", 2, 2, 123400, 123400},
		{"AUD", 2, 2, 123400, 123400},
		{"AWG", 2, 2, 123400, 123400},
		{"AZN", 2, 2, 123400, 123400},
		{"BAM", 2, 2, 123400, 123400},
		{"BBD", 2, 2, 123400, 123400},
		{"BDT", 2, 2, 123400, 123400},
		{"BHD", 3, 3, 123400, 123400},
		{"BMD", 2, 2, 123400, 123400},
		{"BND", 2, 2, 123400, 123400},
		{"BOB", 2, 2, 123400, 123400},
		{"BRL", 2, 2, 123400, 123400},
		{"BSD", 2, 2, 123400, 123400},
		{"BWP", 2, 2, 123400, 123400},
		{"BYN", 2, 2, 123400, 123400},
		{"BZD", 2, 2, 123400, 123400},
		{"CAD", 2, 2, 123400, 123400},
		{"CHF", 2, 2, 123400, 123400},
		{"CLP", 2, 0, 123400, 1234},
		{"CNH", 2, 2, 123400, 123400},
		{"CNY", 2, 2, 123400, 123400},
		{"COP", 2, 2, 123400, 123400},
		{"CRC", 2, 2, 123400, 123400},
		{"CUP", 2, 2, 123400, 123400},
		{"CVE", 0, 2, 123400, 12340000},
		{"CZK", 2, 2, 123400, 123400},
		{"DJF", 0, 0, 123400, 123400},
		{"DKK", 2, 2, 123400, 123400},
		{"DOP", 2, 2, 123400, 123400},
		{"DZD", 2, 2, 123400, 123400},
		{"EGP", 2, 2, 123400, 123400},
		{"ETB", 2, 2, 123400, 123400},
		{"EUR", 2, 2, 123400, 123400},
		{"FJD", 2, 2, 123400, 123400},
		{"FKP", 2, 2, 123400, 123400},
		{"GBP", 2, 2, 123400, 123400},
		{"GEL", 2, 2, 123400, 123400},
		{"GHS", 2, 2, 123400, 123400},
		{"GIP", 2, 2, 123400, 123400},
		{"GMD", 2, 2, 123400, 123400},
		{"GNF", 0, 0, 123400, 123400},
		{"GTQ", 2, 2, 123400, 123400},
		{"GYD", 2, 2, 123400, 123400},
		{"HKD", 2, 2, 123400, 123400},
		{"HNL", 2, 2, 123400, 123400},
		{"HTG", 2, 2, 123400, 123400},
		{"HUF", 2, 2, 123400, 123400},
		{"IDR", 0, 2, 123400, 12340000},
		{"ILS", 2, 2, 123400, 123400},
		{"INR", 2, 2, 123400, 123400},
		{"IQD", 3, 3, 123400, 123400},
		{"ISK", 2, 0, 123400, 1234},
		{"JMD", 2, 2, 123400, 123400},
		{"JOD", 3, 3, 123400, 123400},
		{"JPY", 0, 0, 123400, 123400},
		{"KES", 2, 2, 123400, 123400},
		{"KGS", 2, 2, 123400, 123400},
		{"KHR", 2, 2, 123400, 123400},
		{"KMF", 0, 0, 123400, 123400},
		{"KRW", 0, 0, 123400, 123400},
		{"KWD", 3, 3, 123400, 123400},
		{"KYD", 2, 2, 123400, 123400},
		{"KZT", 2, 2, 123400, 123400},
		{"LAK", 2, 2, 123400, 123400},
		{"LKR", 2, 2, 123400, 123400},
		{"LYD", 3, 3, 123400, 123400},
		{"MAD", 2, 2, 123400, 123400},
		{"MDL", 2, 2, 123400, 123400},
		{"MKD", 2, 2, 123400, 123400},
		{"MMK", 2, 2, 123400, 123400},
		{"MNT", 2, 2, 123400, 123400},
		{"MOP", 2, 2, 123400, 123400},
		{"MRU", 2, 2, 123400, 123400},
		{"MUR", 2, 2, 123400, 123400},
		{"MVR", 2, 2, 123400, 123400},
		{"MWK", 2, 2, 123400, 123400},
		{"MXN", 2, 2, 123400, 123400},
		{"MYR", 2, 2, 123400, 123400},
		{"MZN", 2, 2, 123400, 123400},
		{"NAD", 2, 2, 123400, 123400},
		{"NGN", 2, 2, 123400, 123400},
		{"NIO", 2, 2, 123400, 123400},
		{"NOK", 2, 2, 123400, 123400},
		{"NPR", 2, 2, 123400, 123400},
		{"NZD", 2, 2, 123400, 123400},
		{"OMR", 3, 3, 123400, 123400},
		{"PAB", 2, 2, 123400, 123400},
		{"PEN", 2, 2, 123400, 123400},
		{"PGK", 2, 2, 123400, 123400},
		{"PHP", 2, 2, 123400, 123400},
		{"PKR", 2, 2, 123400, 123400},
		{"PLN", 2, 2, 123400, 123400},
		{"PYG", 0, 0, 123400, 123400},
		{"QAR", 2, 2, 123400, 123400},
		{"RON", 2, 2, 123400, 123400},
		{"RSD", 2, 2, 123400, 123400},
		{"RUB", 2, 2, 123400, 123400},
		{"RWF", 0, 0, 123400, 123400},
		{"SAR", 2, 2, 123400, 123400},
		{"SBD", 2, 2, 123400, 123400},
		{"SCR", 2, 2, 123400, 123400},
		{"SEK", 2, 2, 123400, 123400},
		{"SGD", 2, 2, 123400, 123400},
		{"SHP", 2, 2, 123400, 123400},
		{"SLE", 2, 2, 123400, 123400},
		{"SOS", 2, 2, 123400, 123400},
		{"SRD", 2, 2, 123400, 123400},
		{"STN", 2, 2, 123400, 123400},
		{"SVC", 2, 2, 123400, 123400},
		{"SZL", 2, 2, 123400, 123400},
		{"THB", 2, 2, 123400, 123400},
		{"TND", 3, 3, 123400, 123400},
		{"TOP", 2, 2, 123400, 123400},
		{"TRY", 2, 2, 123400, 123400},
		{"TTD", 2, 2, 123400, 123400},
		{"TWD", 2, 2, 123400, 123400},
		{"TZS", 2, 2, 123400, 123400},
		{"UAH", 2, 2, 123400, 123400},
		{"UGX", 0, 0, 123400, 123400},
		{"USD", 2, 2, 123400, 123400},
		{"UYU", 2, 2, 123400, 123400},
		{"UZS", 2, 2, 123400, 123400},
		{"VEF", 2, 2, 123400, 123400},
		{"VND", 0, 0, 123400, 123400},
		{"VUV", 0, 0, 123400, 123400},
		{"WST", 2, 2, 123400, 123400},
		{"XAF", 0, 0, 123400, 123400},
		{"XCG", 2, 2, 123400, 123400},
		{"XCD", 2, 2, 123400, 123400},
		{"XOF", 0, 0, 123400, 123400},
		{"XPF", 0, 0, 123400, 123400},
		{"YER", 2, 2, 123400, 123400},
		{"ZAR", 2, 2, 123400, 123400},
		{"ZMW", 2, 2, 123400, 123400},
	}
	seen := map[string]bool{}
	for _, r := range rows {
		t.Run(r.currency, func(t *testing.T) {
			seen[r.currency] = true
			if e, listed := adyen.Units.Exponent(r.currency); e != r.adyenExp || !listed {
				t.Errorf("Adyen exponent = %d (listed %v), want %d", e, listed, r.adyenExp)
			}
			if e := domain.CurrencyExponent(r.currency); e != r.isoExp {
				t.Errorf("ISO exponent = %d, want %d", e, r.isoExp)
			}
			if got, err := adyen.Units.FromProvider(r.adyen, r.currency); err != nil || got != r.iso {
				t.Errorf("FromProvider(%d) = %d, %v; want %d", r.adyen, got, err, r.iso)
			}
			if got, err := adyen.Units.ToProvider(r.iso, r.currency); err != nil || got != r.adyen {
				t.Errorf("ToProvider(%d) = %d, %v; want %d", r.iso, got, err, r.adyen)
			}
		})
	}
	for c := range adyen.Units.Exponents {
		if !seen[c] {
			t.Errorf("%s is in adyen.Units but has no row here", c)
		}
	}
}

// TestUnitsUnrepresentable: an amount one side cannot write exactly is a permanent
// EINVALID naming the amount, never a rounded number.
func TestUnitsUnrepresentable(t *testing.T) {
	tests := []struct {
		name     string
		way      func(int64, string) (int64, error)
		amount   int64
		currency string
		want     string
	}{
		{"CLP value with centavos", adyen.Units.FromProvider, 150050, "CLP", "Adyen amount 150050 CLP (1500.50 CLP"},
		{"ISK value with aurar", adyen.Units.FromProvider, 99, "ISK", "Adyen amount 99 ISK (0.99 ISK"},
		{"IDR sen Adyen cannot write", adyen.Units.ToProvider, 1050, "IDR", "10.50 IDR (ISO 4217 minor units 1050) has no exact value in Adyen's units of IDR (0 decimals)"},
		{"CVE centavos Adyen cannot write", adyen.Units.ToProvider, 1, "CVE", "0.01 CVE"},
		{"CVE overflow", adyen.Units.FromProvider, 1 << 62, "CVE", "has no exact value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.way(tt.amount, tt.currency)
			if domain.ErrorCode(err) != domain.EINVALID || domain.ErrorReason(err) != domain.ReasonUnrepresentable || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("= %d, %v; want EINVALID %s containing %q", got, err, domain.ReasonUnrepresentable, tt.want)
			}
		})
	}
}

// withAmount is the real AUTHORISATION fixture (adyen-go-api-library's webhook test)
// with its amount changed to value in currency.
func withAmount(t *testing.T, currency string, value int64) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(read(t, "adyen_go_AUTHORISATION.json"), &b); err != nil {
		t.Fatal(err)
	}
	it := b["notificationItems"].([]any)[0].(map[string]any)["NotificationRequestItem"].(map[string]any)
	it["amount"] = map[string]any{"currency": currency, "value": value}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNormalizeCurrencyUnits: the normalized payment holds ISO 4217 minor units whatever
// Adyen's unit for the currency. Expected amounts are worked out by hand from Adyen's
// table: CLP 15000.00 is value 1500000 at Adyen's 2 decimals, and 15000 pesos in ISO's 0.
func TestNormalizeCurrencyUnits(t *testing.T) {
	tests := []struct {
		name     string
		currency string
		value    int64 // Adyen's amount.value
		want     int64 // ISO 4217 minor units
		wantErr  string
	}{
		{"EUR unchanged", "EUR", 10100, 10100, ""},
		{"CLP: Adyen 2 decimals, ISO 0", "CLP", 1500000, 15000, ""},
		{"ISK: Adyen 2 decimals, ISO 0", "ISK", 279000, 2790, ""},
		{"CVE: Adyen 0 decimals, ISO 2", "CVE", 2500, 250000, ""},
		{"IDR: Adyen 0 decimals, ISO 2", "IDR", 150000, 15000000, ""},
		{"JPY: 0 both", "JPY", 1200, 1200, ""},
		{"KWD: 3 both", "KWD", 10250, 10250, ""},
		{"BHD: 3 both", "BHD", 5130, 5130, ""},
		{"CLP centavos have no ISO value", "CLP", 150050, 0, "refusing to round"},
		{"ISK aurar have no ISO value", "ISK", 279001, 0, "refusing to round"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := domain.Delivery{Body: withAmount(t, tt.currency, tt.value)}
			msgs, err := adyen.Provider{}.Parse(src, d)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("Parse = %v, %v", msgs, err)
			}
			evs, err := adyen.Provider{}.Normalize(src, msgs[0])
			if tt.wantErr != "" {
				if domain.ErrorCode(err) != domain.EINVALID || domain.ErrorReason(err) != domain.ReasonUnrepresentable || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Normalize = %v, %v; want a permanent EINVALID %s", evs, err, domain.ReasonUnrepresentable)
				}
				return
			}
			if err != nil || len(evs) != 1 || evs[0].Payment == nil {
				t.Fatalf("Normalize = %+v, %v", evs, err)
			}
			want := domain.PaymentChange{Amount: tt.want, Currency: tt.currency}
			if diff := cmp.Diff(want, *evs[0].Payment); diff != "" {
				t.Errorf("payment (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSignedNonISOCurrency: a notification signed over Adyen's raw IDR value verifies
// (the signing string keeps amount.value as Adyen sent it) and normalizes to ISO units.
// The simulator takes ISO minor units and writes Adyen's.
func TestSignedNonISOCurrency(t *testing.T) {
	p := adyen.Provider{}
	d := sample(t, src, "CAPTURE", webhook.SampleOptions{EventID: "idr-1", OrderRef: "1001", Amount: 1500000, Currency: "IDR", Now: now}) // Rp 15,000.00
	it := sampleItem(t, d)
	if it.Amount.Value != 15000 || !strings.Contains(it.SigningString(), ":15000:IDR:") {
		t.Fatalf("signed item = %d %q, want Adyen's value 15000 in the signing string", it.Amount.Value, it.SigningString())
	}
	if err := p.Verify(context.Background(), src, d); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	msgs, err := p.Parse(src, d)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := p.Normalize(src, msgs[0])
	if err != nil || len(evs) != 1 || evs[0].Payment.Amount != 1500000 {
		t.Fatalf("Normalize = %+v, %v; want 1500000 (ISO minor units of IDR)", evs, err)
	}
	if _, err := p.Sample(src, "CAPTURE", webhook.SampleOptions{Amount: 1050, Currency: "IDR", Now: now}); domain.ErrorReason(err) != domain.ReasonUnrepresentable {
		t.Errorf("Sample(IDR 10.50) = %v; Adyen cannot write sen, want %s", err, domain.ReasonUnrepresentable)
	}
}
