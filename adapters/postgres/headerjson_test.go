package postgres

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// headersAsMarshalled is what the inbox stored before appendHeaderJSON: the
// header without credentials, through json.Marshal.
func headersAsMarshalled(h http.Header) ([]byte, error) {
	kept := make(http.Header, len(h))
	for k, v := range h {
		if !credentialHeaders[http.CanonicalHeaderKey(k)] {
			kept[k] = v
		}
	}
	return json.Marshal(kept)
}

func TestHeaderJSONLeavesOutCredentials(t *testing.T) {
	h := http.Header{"Stripe-Signature": {"t=1,v1=ab"}, "Authorization": {"Bearer secret"}, "cookie": {"session=1"},
		"X-Many": {"a", "b\"c\\d\n\x01é"}, "X-Empty": {}, "X-Nil": nil}
	got := appendHeaderJSON(nil, h)
	var decoded map[string][]string
	if err := json.Unmarshal(got, &decoded); err != nil {
		t.Fatalf("not JSON: %s: %v", got, err)
	}
	want := map[string][]string{"Stripe-Signature": {"t=1,v1=ab"}, "X-Many": {"a", "b\"c\\d\n\x01é"}, "X-Empty": {}, "X-Nil": nil}
	if !reflect.DeepEqual(decoded, want) {
		t.Errorf("decoded %v, want %v (no Authorization, no cookie)", decoded, want)
	}
}

// FuzzHeaderJSONDecodesAsJSONMarshalWrites: for any header names and values,
// appendHeaderJSON writes valid JSON that decodes to what json.Marshal's
// encoding of the same header decodes to.
func FuzzHeaderJSONDecodesAsJSONMarshalWrites(f *testing.F) {
	f.Add("Content-Type", "application/json", "X-Note", "a \"quoted\" \\ value")
	f.Add("authorization", "Bearer x", "X-Ctl", "\x00\x1f\x7f")
	f.Add("X-Bad", "\xff\xfe", "X-Emoji", "✓ \u2028 <&>")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		h := http.Header{k1: {v1, v2}, k2: {v2}}
		want, err := headersAsMarshalled(h)
		if err != nil {
			t.Skip()
		}
		got := appendHeaderJSON([]byte("prefix"), h)[len("prefix"):]
		if !json.Valid(got) {
			t.Fatalf("not valid JSON: %q", got)
		}
		var a, b map[string][]string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("appendHeaderJSON decodes to %q, json.Marshal's to %q", a, b)
		}
	})
}
