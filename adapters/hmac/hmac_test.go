package hmac_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/hmac"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/hmac"

var (
	plain = domain.Source{ID: "acme-hmac", Provider: hmac.Kind, Secrets: []string{"shh-test-secret"},
		Settings: map[string]string{"header": "X-Signature"}}
	stamped = domain.Source{ID: "acme-hmac-ts", Provider: hmac.Kind, Secrets: []string{"shh-test-secret"},
		Settings: map[string]string{
			"header": "X-Tradewind-Signature", "algorithm": "sha512", "encoding": "base64", "prefix": "v1=",
			"timestamp_header": "X-Tradewind-Timestamp", "tolerance": "5m", "id_path": "meta.id", "type_path": "meta.type",
		}}
)

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

func TestKnownAnswerVector(t *testing.T) {
	var kat struct {
		Secret, Payload, Header, Expected string
	}
	if err := json.Unmarshal(read(t, "kat_github_docs.json"), &kat); err != nil {
		t.Fatal(err)
	}
	s := domain.Source{ID: "gh", Secrets: []string{kat.Secret}, Settings: map[string]string{"header": kat.Header, "prefix": "sha256="}}
	body := []byte(kat.Payload)
	d := domain.Delivery{Header: http.Header{http.CanonicalHeaderKey(kat.Header): {kat.Expected}}, Body: body}
	p := hmac.Provider{}
	if err := p.Verify(context.Background(), s, d); err != nil {
		t.Fatalf("Verify(vector) = %v", err)
	}
	if sig, _, _ := hmac.Sign(s, kat.Secret, body, time.Time{}); sig != kat.Expected {
		t.Errorf("Sign = %s, want %s", sig, kat.Expected)
	}
	for i := range body {
		bad := d
		bad.Body = append([]byte(nil), body...)
		bad.Body[i] ^= 0x20
		if err := p.Verify(context.Background(), s, bad); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
			t.Fatalf("Verify accepted the vector with byte %d changed: %v", i, err)
		}
	}
	tests := []struct {
		name     string
		settings map[string]string
	}{
		{"sha1", map[string]string{"header": kat.Header, "prefix": "sha256=", "algorithm": "sha1"}},
		{"base64", map[string]string{"header": kat.Header, "prefix": "sha256=", "encoding": "base64"}},
		{"no prefix", map[string]string{"header": kat.Header}},
		{"other header", map[string]string{"header": "X-Signature", "prefix": "sha256="}},
		{"timestamped", map[string]string{"header": kat.Header, "prefix": "sha256=", "timestamp_header": "X-Ts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s
			s.Settings = tt.settings
			if err := p.Verify(context.Background(), s, d); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Errorf("Verify = %v, want %s", err, domain.EUNAUTHORIZED)
			}
		})
	}
}

func TestContract(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		webhooktest.Contract(t, hmac.Provider{}, webhooktest.Options{Source: plain, OtherSecret: "other-secret"})
	})
	t.Run("timestamped sha512 base64 prefix nested paths", func(t *testing.T) {
		webhooktest.Contract(t, hmac.Provider{}, webhooktest.Options{Source: stamped, OtherSecret: "other-secret", Timestamped: true})
	})
}

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, hmac.Provider{}, webhooktest.Options{Source: stamped})
}

func TestCheckSource(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		wantKey  string // "" when valid
	}{
		{"minimal", map[string]string{"header": "X-Sig"}, ""},
		{"everything", stamped.Settings, ""},
		{"no header", map[string]string{}, "header"},
		{"bad algorithm", map[string]string{"header": "X", "algorithm": "md5"}, "algorithm"},
		{"bad encoding", map[string]string{"header": "X", "encoding": "base32"}, "encoding"},
		{"bad tolerance", map[string]string{"header": "X", "timestamp_header": "T", "tolerance": "5 minutes"}, "tolerance"},
		{"tolerance without timestamp header", map[string]string{"header": "X", "tolerance": "5m"}, "tolerance"},
		{"bad id path", map[string]string{"header": "X", "id_path": "a..b"}, "id_path"},
		{"bad type path", map[string]string{"header": "X", "type_path": "."}, "type_path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := hmac.Provider{}.CheckSource(domain.Source{ID: "h", Secrets: []string{"s"}, Settings: tt.settings})
			if tt.wantKey == "" {
				if err != nil {
					t.Errorf("CheckSource = %v", err)
				}
				return
			}
			if domain.ErrorCode(err) != domain.EINVALID || !strings.HasPrefix(domain.ErrorMessage(err), tt.wantKey+":") {
				t.Errorf("CheckSource = %v, want EINVALID naming %s", err, tt.wantKey)
			}
		})
	}
}

func TestSenderRotationSeveralSignatures(t *testing.T) {
	r, err := hmac.Provider{}.Sample(plain, "PaymentSucceeded", webhook.SampleOptions{EventID: "e1", OrderRef: "1"})
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := hmac.Sign(plain, "new-secret", r.Body, time.Time{})
	r.Header.Set("X-Signature", other+", "+r.Header.Get("X-Signature"))
	if err := (hmac.Provider{}).Verify(context.Background(), plain, domain.Delivery{Header: r.Header, Body: r.Body}); err != nil {
		t.Errorf("Verify with [new, old] signatures = %v", err)
	}
}

func TestGolden(t *testing.T) {
	nested := plain
	nested.Settings = map[string]string{"header": "X-Signature", "id_path": "event.id", "type_path": "event.name"}
	tests := []struct {
		name string
		src  domain.Source
	}{
		{"payment_succeeded", plain},
		{"order_placed_nested_paths", nested},
		{"inventory_level_set", plain},
		{"unhandled_type", plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := webhooktest.NormalizeAll(t, hmac.Provider{}, tt.src, domain.Delivery{Body: read(t, tt.name+".body.json")})
			webhooktest.Golden(t, filepath.Join(testdata, tt.name+".golden.json"), got)
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"float amount", `{"id":"1","type":"PaymentSucceeded","data":{"payment_ref":"1","payment":{"amount":25.5,"currency":"USD"}}}`},
		{"misspelt key", `{"id":"1","type":"PaymentSucceeded","data":{"payment_ref":"1","payment":{"ammount":2550,"currency":"USD"}}}`},
		{"no currency", `{"id":"1","type":"PaymentSucceeded","data":{"payment_ref":"1","payment":{"amount":2550}}}`},
		{"wrong part", `{"id":"1","type":"PaymentSucceeded","data":{"order_ref":"1","stock":{"sku":"A","on_hand":1}}}`},
		{"two parts", `{"id":"1","type":"InventoryLevelSet","data":{"stock":{"sku":"A","on_hand":1},"customer":{}}}`},
		{"no data", `{"id":"1","type":"InventoryLevelSet"}`},
		{"stock without sku", `{"id":"1","type":"InventoryLevelSet","data":{"stock":{"on_hand":1}}}`},
		{"payment without payment_ref", `{"id":"1","type":"PaymentSucceeded","data":{"order_ref":"1","payment":{"amount":2550,"currency":"USD"}}}`},
		{"refund_ref on a capture", `{"id":"1","type":"PaymentSucceeded","data":{"payment_ref":"p","payment":{"amount":1,"currency":"USD","refund_ref":"r"}}}`},
		{"dispute without ref", `{"id":"1","type":"DisputeOpened","data":{"payment_ref":"p","dispute":{"amount":1,"currency":"USD","status":"open"}}}`},
		{"order without ref", `{"id":"1","type":"OrderPlaced","data":{"order":{"currency":"USD","total":1}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := hmac.Provider{}.Parse(plain, domain.Delivery{Body: []byte(tt.body)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (hmac.Provider{}).Normalize(plain, msgs[0]); domain.ErrorCode(err) != domain.EINVALID {
				t.Errorf("Normalize = %v, want %s", err, domain.EINVALID)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, body := range []string{`{"type":"OrderPlaced"}`, `{"id":"1"}`, `{"id":{"x":1},"type":"OrderPlaced"}`, `not json`} {
		if _, err := (hmac.Provider{}).Parse(plain, domain.Delivery{Body: []byte(body)}); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("Parse(%s) = %v, want %s", body, err, domain.EINVALID)
		}
	}
}
