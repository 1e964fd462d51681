package powertranz

import "github.com/tradewind/tradewind/domain"

// Unsigned reports that a callback carries no signature: the shopper's browser
// relays it, so anyone can send one. The ingress limits such requests per source
// and per client address.
func (Provider) Unsigned(domain.Delivery) bool { return true }
