package square

import "github.com/tradewind/tradewind/domain"

// Units is Square's table of currency exponents. Square's Money.amount is "the amount in
// the base unit of the currency", and Square's table of base units agrees with ISO 4217
// for every currency it lists (cents for AUD, CAD, EUR, GBP and USD; yen for JPY, a
// zero-decimal currency): the conversion is the identity, kept so that every amount
// Square sends is read through one declared table.
//
// Source: Square, "Working with Monetary Amounts",
// https://developer.squareup.com/docs/build-basics/working-with-monetary-amounts.
var Units = domain.ProviderUnits{
	Provider: "Square",
	Exponents: map[string]int{
		"AUD": 2, "CAD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "USD": 2,
	},
}
