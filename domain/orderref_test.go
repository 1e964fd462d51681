package domain

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOrderRefHint(t *testing.T) {
	for _, tc := range []struct {
		name, body, key, want string
	}{
		{"stripe metadata", `{"id":"evt_1","data":{"object":{"id":"pi_1","metadata":{"order_ref":"1001"}}}}`, "", "1001"},
		{"source's own key", `{"data":{"object":{"metadata":{"order_id":"A-9","order_ref":"x"}}}}`, "order_id", "A-9"},
		{"powertranz", `{"TransactionIdentifier":"t1","OrderIdentifier":"7777"}`, "", "7777"},
		{"adyen", `{"notificationItems":[{"NotificationRequestItem":{"merchantReference":"ORD-5"}}]}`, "", "ORD-5"},
		{"shopify order names itself", `{"id":820982911946154508,"line_items":[{"id":1}]}`, "", "820982911946154508"},
		{"bigcommerce", `{"scope":"store/order/created","data":{"type":"order","id":250}}`, "", "250"},
		{"shallow wins", `{"order_id":"top","items":[{"order_id":"deep"}]}`, "", "top"},
		{"form body", `acct_code=3003&pt_order_id=pay1`, "", "3003"},
		{"json in a form field", `Response=%7B%22OrderIdentifier%22%3A%227777%22%7D`, "", "7777"},
		{"nothing", `{"id":"evt_1"}`, "", ""},
		{"not json", `{"id":`, "", ""},
		{"NUL refused", `{"order_ref":"a\u0000b"}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := OrderRefHint([]byte(tc.body), tc.key); got != tc.want {
				t.Errorf("OrderRefHint = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzOrderRefHint: the body of any request, refused ones too, goes through it;
// nothing may panic, and a hint is always storable text.
func FuzzOrderRefHint(f *testing.F) {
	f.Add([]byte(`{"data":{"object":{"metadata":{"order_ref":"1001"}}}}`), "")
	f.Add([]byte(`Response=%7B%22OrderIdentifier%22%3A%227777%22%7D`), "order_id")
	f.Add([]byte(`[[[[[[[[{"order_id":1}]]]]]]]]`), "")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		ref := OrderRefHint(body, key)
		if len(ref) > 200 || strings.IndexByte(ref, 0) >= 0 || !utf8.ValidString(ref) {
			t.Errorf("OrderRefHint = %q: not storable", ref)
		}
	})
}
