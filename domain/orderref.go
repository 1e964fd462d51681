package domain

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// orderRefKeys are the fields that name a storefront order in the payloads of
// the providers Tradewind speaks, most specific first: payment metadata
// (order_ref, or a source's order_ref_key), PowerTranz's OrderIdentifier, Adyen's
// merchantReference, Fygaro's custom_reference, PayPal's reference_id, custom_id
// and invoice_id, PlugnPay's acct_code, and order_id last (Square's order, a
// refund's order on Shopify).
var orderRefKeys = []string{"order_ref", "OrderIdentifier", "merchantReference", "custom_reference", "customReference",
	"reference_id", "custom_id", "invoice_id", "acct_code", "order_id", "orderId"}

// maxHintBytes bounds the body OrderRefHint reads: refs sit near the top of every
// payload Tradewind knows, and a refused request can be anything.
const maxHintBytes = 256 << 10

// OrderRefHint returns the order a payload seems to name, or "": read from the
// body alone, before (or without) verification and normalization, so it is a
// hint to show ops ("this request names order 7777, unverified"), never a fact
// to apply. key is the source's order_ref_key ("" for the default). JSON bodies
// are searched breadth-first for the known fields (a storefront order's own id
// when the object is an order: it has line items); form bodies by field name, then inside fields that hold JSON.
func OrderRefHint(body []byte, key string) string {
	if len(body) == 0 || len(body) > maxHintBytes {
		return ""
	}
	keys := orderRefKeys
	if key != "" && key != "order_ref" {
		keys = append([]string{key}, orderRefKeys...)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return clampRef(jsonRef(trimmed, keys))
	}
	form, err := url.ParseQuery(string(trimmed))
	if err != nil {
		return ""
	}
	for _, k := range keys {
		if v := form.Get(k); v != "" {
			return clampRef(v)
		}
	}
	// A form field can carry JSON (PowerTranz posts its response as Response={…}).
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := strings.TrimSpace(form.Get(k))
		if strings.HasPrefix(v, "{") {
			if ref := OrderRefHint([]byte(v), key); ref != "" {
				return ref
			}
		}
	}
	return ""
}

// clampRef keeps a hint storable and short: refs are short ids.
func clampRef(s string) string {
	if len(s) > 200 || strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		return ""
	}
	return s
}
