package paypal

import "github.com/tradewind/tradewind/domain"

// Units is PayPal's table of currency decimals. PayPal amounts are decimal strings
// ({"currency_code": "HUF", "value": "1000"}), so reading one needs no exponent: the
// string carries its own scale and Units.ParseDecimal reads it into ISO 4217 minor units
// exactly (HUF "1000" → 100000, ISO's forint has 2 decimals). The table matters on the
// way out: Units.FormatDecimal writes ISO minor units with PayPal's decimals and refuses
// what PayPal cannot take (HUF 100050 is 1000.50 Ft; PayPal takes forint whole).
//
// Source: PayPal, "Currency codes", https://developer.paypal.com/api/rest/reference/currency-codes/
// (the supported currencies; HUF, JPY and TWD: "This currency does not support decimals.
// If you pass a decimal amount, an error occurs."), and the Amount object's value: "an
// integer for currencies like JPY that are not typically fractional".
var Units = domain.ProviderUnits{
	Provider: "PayPal",
	Exponents: map[string]int{
		"AUD": 2, "BRL": 2, "CAD": 2, "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2, "HKD": 2,
		"HUF": 0, "ILS": 2, "INR": 2, "JPY": 0, "MYR": 2, "MXN": 2, "TWD": 0, "NZD": 2,
		"NOK": 2, "PHP": 2, "PLN": 2, "GBP": 2, "SGD": 2, "SEK": 2, "CHF": 2, "THB": 2,
		"USD": 2,
	},
}
