package stripe

import "github.com/tradewind/tradewind/domain"

// Units is Stripe's table of currency exponents: every amount field of a Stripe object
// is an integer in these units. Normalize converts them to ISO 4217 minor units with
// Units.FromProvider; anything Tradewind sends Stripe (refunds, reconciliation) goes
// through Units.ToProvider. Currencies Stripe does not list here are "two-decimal"
// in Stripe's words, i.e. in the currency's ISO minor unit.
//
// Source: Stripe, "Supported currencies", https://docs.stripe.com/currencies:
//   - Zero-decimal currencies (amount in whole units): BIF CLP DJF GNF JPY KMF KRW MGA
//     PYG RWF UGX VND VUV XAF XOF XPF. Stripe's MGA (ISO 2 decimals) differs from ISO.
//   - Three-decimal currencies: BHD JOD KWD OMR TND. "To ensure compatibility with
//     Stripe's payments partners, these API calls require the least-significant (last)
//     digit to be 0" (5.124 KWD must be sent as 5120 or 5130): Steps 10, enforced on the
//     way out only.
//   - Special cases: ISK became zero-decimal, but "to maintain backwards compatibility,
//     you must pass in amounts with two decimals … to charge 5 ISK, provide an amount
//     value of 500": Stripe 2 decimals, ISO 0, so only multiples of 100 have an ISO value.
//     "Stripe treats HUF as a zero-decimal currency for payouts, even though you can
//     charge two-decimal amounts" (TWD likewise): charges and refunds are in ISO's 2
//     decimals; only payouts need multiples of 100, which does not change the unit.
//
// UGX: Stripe's zero-decimal list includes UGX (the list above as it stands on the page,
// and as copied by Stripe integrations: woocommerce/woocommerce-gateway-stripe#883,
// activemerchant/active_merchant#2857). ISO's UGX has 0 decimals too, so UGX converts 1:1.
var Units = domain.ProviderUnits{
	Provider: "Stripe",
	Exponents: map[string]int{
		// zero-decimal
		"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "JPY": 0, "KMF": 0, "KRW": 0, "MGA": 0,
		"PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
		// three-decimal
		"BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3,
		// special cases: two-decimal in the API
		"ISK": 2, "HUF": 2, "TWD": 2,
	},
	Steps: map[string]int64{"BHD": 10, "JOD": 10, "KWD": 10, "OMR": 10, "TND": 10},
}
