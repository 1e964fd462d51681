package domain

import (
	"math"
	"strings"
	"testing"
)

// TestCurrencyExponentISO checks Tradewind's ISO 4217 table (table A.1, minor unit
// column) for the currencies providers disagree on, and a few ordinary ones.
func TestCurrencyExponentISO(t *testing.T) {
	for c, want := range map[string]int{
		"ISK": 0, "CLP": 0, "UGX": 0, "VND": 0, "JPY": 0, "KRW": 0, "XOF": 0, "PYG": 0,
		"MGA": 2, // the ariary's subunit is a fifth, but ISO lists 2 decimals
		"IDR": 2, "CVE": 2, "HUF": 2, "TWD": 2, "USD": 2, "EUR": 2, "MRU": 2,
		"BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3, "IQD": 3, "LYD": 3,
		"CLF": 4, "UYW": 4,
	} {
		if got := CurrencyExponent(c); got != want {
			t.Errorf("CurrencyExponent(%s) = %d, want %d", c, got, want)
		}
	}
}

func TestProviderUnits(t *testing.T) {
	u := ProviderUnits{
		Provider:  "Acme",
		Exponents: map[string]int{"ISK": 2, "IDR": 0, "KWD": 3},
		Steps:     map[string]int64{"KWD": 10},
	}
	tests := []struct {
		name          string
		currency      string
		provider, iso int64
		fromErr       string // FromProvider(provider)
		toErr         string // ToProvider(iso)
	}{
		{"unlisted is ISO", "USD", 1050, 1050, "", ""},
		{"fewer ISO decimals", "isk", 50000, 500, "", ""},
		{"negative", "ISK", -50000, -500, "", ""},
		{"more ISO decimals", "IDR", 15000, 1500000, "", ""},
		{"step on the way out", "KWD", 5120, 5120, "", ""},
		{"not exact in ISO", "ISK", 12345, 123, "Acme amount 12345 ISK (123.45 ISK, written with 2 decimals) has no exact value", "x"},
		{"not exact in provider", "IDR", 15, 1501, "x", "15.01 IDR (ISO 4217 minor units 1501) has no exact value in Acme's units of IDR (0 decimals)"},
		{"off step", "KWD", 5124, 5124, "", "5.124 KWD is 5124 in Acme's units, and Acme takes KWD amounts only in multiples of 10"},
		{"overflow", "IDR", math.MaxInt64 / 10, 0, "Acme amount 922337203685477580 IDR", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := u.FromProvider(tt.provider, tt.currency)
			check(t, "FromProvider", got, err, tt.iso, tt.fromErr)
			got, err = u.ToProvider(tt.iso, tt.currency)
			check(t, "ToProvider", got, err, tt.provider, tt.toErr)
		})
	}
	if _, err := u.FromProvider(1, "12"); ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), "ISO 4217") {
		t.Errorf("FromProvider(bad currency) = %v", err)
	}
}

// check: wantErr "" wants got == want; "x" skips (that direction is not the row's point);
// anything else wants EINVALID unrepresentable_amount containing it.
func check(t *testing.T, what string, got int64, err error, want int64, wantErr string) {
	t.Helper()
	switch wantErr {
	case "x":
	case "":
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", what, got, err, want)
		}
	default:
		if ErrorCode(err) != EINVALID || ErrorReason(err) != ReasonUnrepresentable || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s = %d, %v; want EINVALID %s containing %q", what, got, err, ReasonUnrepresentable, wantErr)
		}
	}
}

func TestProviderUnitsDecimal(t *testing.T) {
	u := ProviderUnits{Provider: "Acme", Exponents: map[string]int{"HUF": 0}}
	if v, err := u.ParseDecimal("1000", "HUF"); err != nil || v != 100000 {
		t.Errorf("ParseDecimal(1000 HUF) = %d, %v; want 100000", v, err)
	}
	if s, err := u.FormatDecimal(100000, "HUF"); err != nil || s != "1000" {
		t.Errorf("FormatDecimal(100000 HUF) = %q, %v; want 1000", s, err)
	}
	if s, err := u.FormatDecimal(1050, "USD"); err != nil || s != "10.50" {
		t.Errorf("FormatDecimal(1050 USD) = %q, %v; want 10.50", s, err)
	}
	if _, err := u.FormatDecimal(100050, "HUF"); ErrorReason(err) != ReasonUnrepresentable {
		t.Errorf("FormatDecimal(100050 HUF) = %v; want %s", err, ReasonUnrepresentable)
	}
}

func TestFormatScaled(t *testing.T) {
	for _, tt := range []struct {
		amount int64
		exp    int
		want   string
	}{{2550, 2, "25.50"}, {7, 3, "0.007"}, {1200, 0, "1200"}, {-5, 2, "-0.05"}, {math.MinInt64, 2, "-92233720368547758.08"}} {
		if got := FormatScaled(tt.amount, tt.exp); got != tt.want {
			t.Errorf("FormatScaled(%d, %d) = %q, want %q", tt.amount, tt.exp, got, tt.want)
		}
	}
}

// FuzzProviderUnits: ToProvider and FromProvider are inverse wherever they succeed, and
// never round.
func FuzzProviderUnits(f *testing.F) {
	u := ProviderUnits{Exponents: map[string]int{"ISK": 2, "IDR": 0, "KWD": 3, "JPY": 0}}
	for _, c := range []string{"ISK", "IDR", "KWD", "JPY", "USD"} {
		f.Add(int64(12345), c)
	}
	f.Fuzz(func(t *testing.T, amount int64, currency string) {
		if iso, err := u.FromProvider(amount, currency); err == nil {
			if back, err := u.ToProvider(iso, currency); err != nil || back != amount {
				t.Fatalf("%d %s → %d → %d, %v", amount, currency, iso, back, err)
			}
		}
		if p, err := u.ToProvider(amount, currency); err == nil {
			if back, err := u.FromProvider(p, currency); err != nil || back != amount {
				t.Fatalf("ISO %d %s → %d → %d, %v", amount, currency, p, back, err)
			}
		}
	})
}
