package domain

import (
	"encoding/json"
	"fmt"
	"strings"
)

// currencyExponents lists the ISO 4217 currencies whose minor unit is not 2 digits.
// Every other well-formed code is taken to have 2.
var currencyExponents = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// NormalizeCurrency upper-cases an ISO 4217 code. Returns EINVALID unless it is three letters.
func NormalizeCurrency(code string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) != 3 {
		return "", Errorf(EINVALID, "currency %q is not a three-letter ISO 4217 code", code)
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return "", Errorf(EINVALID, "currency %q is not a three-letter ISO 4217 code", code)
		}
	}
	return c, nil
}

// CurrencyExponent returns the number of minor-unit digits of an ISO 4217 currency
// (JPY 0, USD 2, BHD 3).
func CurrencyExponent(currency string) int {
	if e, ok := currencyExponents[strings.ToUpper(currency)]; ok {
		return e
	}
	return 2
}

// ParseMinorUnits parses a provider's decimal string ("10.50", "-3", "1200.000")
// into integer minor units of currency, exactly. A value with more fractional
// digits than the currency has (other than trailing zeros), or one that does not
// fit in an int64, is EINVALID: money is never rounded.
func ParseMinorUnits(s, currency string) (int64, error) {
	cur, err := NormalizeCurrency(currency)
	if err != nil {
		return 0, err
	}
	exp := CurrencyExponent(cur)
	str := strings.TrimSpace(s)
	neg := false
	if str != "" && (str[0] == '-' || str[0] == '+') {
		neg = str[0] == '-'
		str = str[1:]
	}
	intPart, frac, hasDot := strings.Cut(str, ".")
	if intPart == "" && (!hasDot || frac == "") {
		return 0, Errorf(EINVALID, "amount %q is not a decimal number", s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > exp {
		return 0, Errorf(EINVALID, "amount %q has more decimals than %s allows (%d); refusing to round", s, cur, exp)
	}
	digits := intPart + frac + strings.Repeat("0", exp-len(frac))
	var v int64
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, Errorf(EINVALID, "amount %q is not a decimal number", s)
		}
		d := int64(r - '0')
		if v > (1<<63-1-d)/10 {
			return 0, Errorf(EINVALID, "amount %q is too large", s)
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, nil
}

// FormatMinorUnits writes minor units of currency as the exact decimal string a provider
// sends ("25.00", "-0.05", "1200" for JPY): the inverse of ParseMinorUnits.
func FormatMinorUnits(amount int64, currency string) string {
	return FormatScaled(amount, CurrencyExponent(currency))
}

// FormatScaled writes an integer amount that carries exp decimals as an exact decimal
// string (2550, 2 → "25.50"; 7, 3 → "0.007"; 1200, 0 → "1200").
func FormatScaled(amount int64, exp int) string {
	neg := amount < 0
	u := uint64(amount)
	if neg {
		u = -u
	}
	s := fmt.Sprintf("%0*d", exp+1, u)
	if exp > 0 {
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Decimal is a money field as a provider sends it in JSON: a decimal string ("10.50") or a
// bare number (10.50), kept as its exact text so that ParseMinorUnits reads it, never
// float64. JSON null is "".
type Decimal string

// UnmarshalJSON implements json.Unmarshaler.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Decimal(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*d = Decimal(n)
	return nil
}
