package woocommerce

import "github.com/tradewind/tradewind/domain"

// Unsigned reports whether a verified delivery carried no signature: only the
// creation ping (webhook_id=N) may, so anyone can send one. The ingress limits
// such requests per source and per client address.
func (Provider) Unsigned(d domain.Delivery) bool { return d.Header.Get(SignatureHeader) == "" }
