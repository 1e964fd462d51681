package domain

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
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

// treeRef is how OrderRefHint read a JSON body before jsonRef: the whole first
// value decoded into maps, then searched breadth-first. It stays as the reference
// jsonRef must agree with (FuzzOrderRefHintAgreesWithTheTreeReading).
func treeRef(body []byte, keys []string) string {
	d := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(body)))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return ""
	}
	scalar := func(v any) string {
		switch v := v.(type) {
		case string:
			return strings.TrimSpace(v)
		case json.Number:
			return v.String()
		}
		return ""
	}
	level := []any{v}
	for depth := 0; depth < 6 && len(level) > 0; depth++ {
		var next []any
		for _, n := range level {
			switch n := n.(type) {
			case map[string]any:
				for _, k := range keys {
					if s := scalar(n[k]); s != "" {
						return clampRef(s)
					}
				}
				if _, ok := n["line_items"]; ok {
					if s := scalar(n["id"]); s != "" {
						return clampRef(s)
					}
				}
				if n["type"] == "order" {
					if s := scalar(n["id"]); s != "" {
						return clampRef(s)
					}
				}
				for _, k := range slices.Sorted(maps.Keys(n)) {
					next = append(next, n[k])
				}
			case []any:
				next = append(next, n...)
			}
		}
		level = next
	}
	return ""
}

// fixtureBodies are the JSON payloads under testdata: real provider webhooks.
func fixtureBodies(tb testing.TB) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob("../testdata/*/*.json")
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, p := range paths {
		if strings.HasSuffix(p, ".golden.json") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		tb.Fatal("no payloads under testdata")
	}
	return out
}

// FuzzOrderRefHintAgreesWithTheTreeReading: for any JSON-looking body, the
// one-pass reading gives the answer of the decoded tree.
func FuzzOrderRefHintAgreesWithTheTreeReading(f *testing.F) {
	for _, b := range fixtureBodies(f) {
		f.Add(b, "")
	}
	f.Add([]byte(`{"a":[1,{"order_id":2.50e1}],"type":"order","id":" 7 "}`), "")
	f.Add([]byte(`{"order_ref":"x"} trailing`), "ref")
	f.Add([]byte(`{"k":1,"k":{"order_id":"last"},"\u006b":[{"order_ref":"esc"}]}`), "")
	f.Add([]byte(`{"\xff":{"order_id":"a"},"\xfe":{"order_id":"b"}}`), "")
	f.Add([]byte(`[[[[[[{"order_id":"too deep"}]]]]],{"line_items":null,"id":-0.5}]`), "")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') || len(body) > maxHintBytes {
			return // a form body, or too long: not read as JSON
		}
		keys := orderRefKeys
		if key != "" && key != "order_ref" {
			keys = append([]string{key}, orderRefKeys...)
		}
		if got, want := OrderRefHint(body, key), treeRef(body, keys); got != want {
			t.Errorf("OrderRefHint = %q, the tree reading says %q", got, want)
		}
	})
}

func TestOrderRefHintReadsEveryFixtureAsTheTreeDoes(t *testing.T) {
	for _, b := range fixtureBodies(t) {
		if got, want := OrderRefHint(b, ""), treeRef(b, orderRefKeys); got != want {
			t.Errorf("OrderRefHint = %q, the tree reading says %q, for %.80s", got, want, b)
		}
	}
}

func BenchmarkOrderRefHint(b *testing.B) {
	bodies := fixtureBodies(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		OrderRefHint(bodies[i%len(bodies)], "")
	}
}
