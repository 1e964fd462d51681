package domain

import (
	"math"
	"strings"
)

// ReasonUnrepresentable is the Reason of the EINVALID error returned when an amount
// cannot be converted exactly between a provider's units and ISO 4217 minor units.
const ReasonUnrepresentable = "unrepresentable_amount"

// ProviderUnits is one provider's table of currency exponents, as the provider documents
// them: how many decimals its integer amounts carry per currency. Tradewind holds ISO 4217
// minor units (CurrencyExponent); most providers agree with ISO, but not all and not for
// every currency (Stripe writes ISK with 2 decimals where ISO has 0, Adyen writes IDR with
// 0 where ISO has 2). Adapters convert with FromProvider where they read an amount and
// ToProvider where they would write one (refunds, reconciliation).
//
// Conversions are exact: an amount that has no exact value in the other unit (Stripe ISK
// 12345, i.e. 123.45 krónur, which ISO cannot write) is EINVALID with Reason
// ReasonUnrepresentable, never rounded. The worker treats EINVALID as permanent.
//
// The zero value converts nothing: every currency is taken to be in ISO minor units.
type ProviderUnits struct {
	// Provider names the provider in error messages ("Stripe").
	Provider string
	// Exponents lists the currencies the provider documents, each with the number of
	// decimals of its amounts. A currency not listed is taken to be in ISO 4217 minor
	// units, which is every provider's documented default.
	Exponents map[string]int
	// Steps lists currencies whose amounts the provider accepts only in multiples of a
	// step, counted in its own units (Stripe's three-decimal currencies: 10). Only
	// ToProvider enforces it: an amount the provider sent is a fact, whatever its step.
	Steps map[string]int64
}

// Exponent returns the number of decimals the provider writes currency with, and whether
// its table lists the currency (unlisted currencies get the ISO 4217 exponent).
func (u ProviderUnits) Exponent(currency string) (int, bool) {
	c := strings.ToUpper(currency)
	if e, ok := u.Exponents[c]; ok {
		return e, true
	}
	return CurrencyExponent(c), false
}

func (u ProviderUnits) name() string {
	if u.Provider == "" {
		return "the provider"
	}
	return u.Provider
}

// FromProvider converts an amount in the provider's units of currency to ISO 4217 minor
// units (Stripe ISK 50000 → 500; Stripe MGA 5000 → 500000; Adyen IDR 15000 → 1500000).
// Returns EINVALID if currency is not a three-letter code, or (Reason
// ReasonUnrepresentable) if the amount has no exact ISO value or overflows.
func (u ProviderUnits) FromProvider(amount int64, currency string) (int64, error) {
	cur, err := NormalizeCurrency(currency)
	if err != nil {
		return 0, err
	}
	pe, _ := u.Exponent(cur)
	ie := CurrencyExponent(cur)
	v, ok := rescale(amount, pe, ie)
	if !ok {
		return 0, unrepresentable("%s amount %d %s (%s %s, written with %d decimals) has no exact value in ISO 4217 minor units of %s (%d decimals); refusing to round",
			u.name(), amount, cur, FormatScaled(amount, pe), cur, pe, cur, ie)
	}
	return v, nil
}

// ToProvider converts ISO 4217 minor units of currency to the provider's units, the
// inverse of FromProvider (ISK 500 → Stripe 50000). Returns EINVALID if currency is not a
// three-letter code, or (Reason ReasonUnrepresentable) if the provider cannot write the
// amount exactly: too precise for its exponent (Adyen IDR 1050 is Rp 10.50, Adyen takes
// whole rupiah), not a multiple of its step (Stripe KWD 5124), or overflowing.
func (u ProviderUnits) ToProvider(amount int64, currency string) (int64, error) {
	cur, err := NormalizeCurrency(currency)
	if err != nil {
		return 0, err
	}
	pe, _ := u.Exponent(cur)
	ie := CurrencyExponent(cur)
	v, ok := rescale(amount, ie, pe)
	if !ok {
		return 0, unrepresentable("%s %s (ISO 4217 minor units %d) has no exact value in %s's units of %s (%d decimals); refusing to round",
			FormatScaled(amount, ie), cur, amount, u.name(), cur, pe)
	}
	if step := u.Steps[cur]; step > 1 && v%step != 0 {
		return 0, unrepresentable("%s %s is %d in %s's units, and %s takes %s amounts only in multiples of %d; refusing to round",
			FormatScaled(amount, ie), cur, v, u.name(), u.name(), cur, step)
	}
	return v, nil
}

func unrepresentable(format string, args ...any) error {
	e := Errorf(EINVALID, format, args...)
	e.Reason = ReasonUnrepresentable
	return e
}

// ParseDecimal reads a provider's decimal string ("1000", "10.50") as ISO 4217 minor
// units of currency. A decimal string carries its own scale, so the provider's exponent
// does not change its value: it is ParseMinorUnits, named here so that decimal-string
// adapters read and write through their one table. Returns EINVALID as ParseMinorUnits.
func (u ProviderUnits) ParseDecimal(s, currency string) (int64, error) {
	return ParseMinorUnits(s, currency)
}

// FormatDecimal writes ISO 4217 minor units of currency as the decimal string the
// provider takes, with exactly the provider's decimals (PayPal HUF 100000 → "1000").
// Returns EINVALID (Reason ReasonUnrepresentable) as ToProvider when the provider cannot
// write the amount (PayPal HUF 100050: PayPal takes forint without decimals).
func (u ProviderUnits) FormatDecimal(amount int64, currency string) (string, error) {
	v, err := u.ToProvider(amount, currency)
	if err != nil {
		return "", err
	}
	pe, _ := u.Exponent(currency)
	return FormatScaled(v, pe), nil
}

// rescale moves amount from exponent from to exponent to; ok is false when the result
// is not exact or does not fit in an int64.
func rescale(amount int64, from, to int) (v int64, ok bool) {
	switch {
	case from == to:
		return amount, true
	case from > to:
		d := pow10(from - to)
		if amount%d != 0 {
			return 0, false
		}
		return amount / d, true
	default:
		m := pow10(to - from)
		if amount > math.MaxInt64/m || amount < math.MinInt64/m {
			return 0, false
		}
		return amount * m, true
	}
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}
