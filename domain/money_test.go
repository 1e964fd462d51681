package domain

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func TestParseMinorUnits(t *testing.T) {
	tests := []struct {
		name, in, currency string
		want               int64
		wantErr            string
	}{
		{"dollars and cents", "10.50", "USD", 1050, ""},
		{"whole", "199", "usd", 19900, ""},
		{"trailing zeros beyond exponent", "10.5000", "USD", 1050, ""},
		{"yen has no minor unit", "1200", "JPY", 1200, ""},
		{"yen with zero decimals", "1200.00", "JPY", 1200, ""},
		{"yen fraction refused", "1200.5", "JPY", 0, "more decimals than JPY allows"},
		{"dinar has three", "1.234", "BHD", 1234, ""},
		{"negative", "-3.10", "EUR", -310, ""},
		{"leading dot", ".5", "USD", 50, ""},
		{"too precise", "0.001", "USD", 0, "refusing to round"},
		{"not a number", "1,00", "USD", 0, "not a decimal number"},
		{"empty", "", "USD", 0, "not a decimal number"},
		{"overflow", "99999999999999999999", "USD", 0, "too large"},
		{"bad currency", "1", "US", 0, "ISO 4217"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMinorUnits(tt.in, tt.currency)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ErrorCode(err) != EINVALID {
					t.Fatalf("ParseMinorUnits(%q) = %d, %v; want EINVALID containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseMinorUnits(%q, %s) = %d, %v; want %d", tt.in, tt.currency, got, err, tt.want)
			}
		})
	}
}

// FuzzParseMinorUnits: never panics, and what it accepts round-trips exactly.
func FuzzParseMinorUnits(f *testing.F) {
	for _, s := range []string{"10.50", "0", "-1.2", "1e5", "", ".", "99999999999999999.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseMinorUnits(s, "USD")
		if err != nil {
			return
		}
		back, err := ParseMinorUnits(formatUSD(v), "USD")
		if err != nil || back != v {
			t.Fatalf("%q → %d does not round-trip (%d, %v)", s, v, back, err)
		}
	})
}

func formatUSD(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	cents := strconv.FormatInt(v%100, 10)
	if len(cents) < 2 {
		cents = "0" + cents
	}
	return sign + strconv.FormatInt(v/100, 10) + "." + cents
}

func TestFormatMinorUnits(t *testing.T) {
	tests := []struct {
		name, currency string
		in             int64
		want           string
	}{
		{"dollars and cents", "USD", 2500, "25.00"},
		{"cents only", "USD", 5, "0.05"},
		{"zero", "USD", 0, "0.00"},
		{"negative", "USD", -5, "-0.05"},
		{"yen", "JPY", 1200, "1200"},
		{"negative yen", "JPY", -3, "-3"},
		{"three decimals", "BHD", 1234, "1.234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatMinorUnits(tt.in, tt.currency)
			if got != tt.want {
				t.Fatalf("FormatMinorUnits(%d, %s) = %q, want %q", tt.in, tt.currency, got, tt.want)
			}
			back, err := ParseMinorUnits(got, tt.currency)
			if err != nil || back != tt.in {
				t.Fatalf("ParseMinorUnits(%q) = %d, %v; want %d", got, back, err, tt.in)
			}
		})
	}
}

func TestDecimalUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name, in string
		want     Decimal
		wantErr  bool
	}{
		{"string", `"10.50"`, "10.50", false},
		{"number kept as text", `10.50`, "10.50", false},
		{"large number exact", `12345678901234567.89`, "12345678901234567.89", false},
		{"null", `null`, "", false},
		{"bool refused", `true`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v struct {
				D Decimal `json:"d"`
			}
			err := json.Unmarshal([]byte(`{"d":`+tt.in+`}`), &v)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && v.D != tt.want {
				t.Fatalf("got %q, want %q", v.D, tt.want)
			}
		})
	}
}
