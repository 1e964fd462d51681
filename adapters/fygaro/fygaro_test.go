package fygaro_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/fygaro"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/fygaro"

var src = domain.Source{ID: "acme-fygaro", Provider: fygaro.Kind, Secrets: []string{"fyg_test_secret_7c1d"}}

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

type kat struct {
	Secret    string `json:"secret"`
	T         int64  `json:"t"`
	BodyFile  string `json:"body_file"`
	Signature string `json:"Fygaro-Signature"`
}

func TestKnownAnswerVector(t *testing.T) {
	var k kat
	if err := json.Unmarshal(read(t, "derived_kat_fygaro.json"), &k); err != nil {
		t.Fatal(err)
	}
	body := read(t, k.BodyFile)
	s := domain.Source{ID: "kat", Secrets: []string{k.Secret}}
	at := time.Unix(k.T, 0)
	d := domain.Delivery{Header: http.Header{"Fygaro-Signature": {k.Signature}}, Body: body, ReceivedAt: at}
	p := fygaro.Provider{}
	if err := p.Verify(context.Background(), s, d); err != nil {
		t.Fatalf("Verify(vector) = %v", err)
	}
	for i := range body {
		bad := d
		bad.Body = append([]byte(nil), body...)
		bad.Body[i] ^= 0x20
		if err := p.Verify(context.Background(), s, bad); err == nil {
			t.Fatalf("Verify accepted the vector with byte %d changed", i)
		}
	}
	tests := []struct {
		name string
		edit func(*domain.Delivery)
	}{
		{"301 s late", func(d *domain.Delivery) { d.ReceivedAt = at.Add(301 * time.Second) }},
		{"301 s early", func(d *domain.Delivery) { d.ReceivedAt = at.Add(-301 * time.Second) }},
		{"timestamp changed", func(d *domain.Delivery) {
			d.Header = http.Header{"Fygaro-Signature": {strings.Replace(k.Signature, "t=1764000030", "t=1764000031", 1)}}
		}},
		{"wrong secret", func(d *domain.Delivery) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := d
			s := s
			if tt.name == "wrong secret" {
				s.Secrets = []string{"fyg_other"}
			}
			tt.edit(&bad)
			if err := p.Verify(context.Background(), s, bad); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Errorf("Verify = %v, want %s", err, domain.EUNAUTHORIZED)
			}
		})
	}
}

func TestContract(t *testing.T) {
	webhooktest.Contract(t, fygaro.Provider{}, webhooktest.Options{Source: src, OtherSecret: "fyg_other_secret", Timestamped: true})
}

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, fygaro.Provider{}, webhooktest.Options{Source: src})
}

func TestCheckSource(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		want    string
	}{
		{"valid", []string{"a"}, ""},
		{"none", nil, domain.EINVALID},
		{"empty", []string{""}, domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fygaro.Provider{}.CheckSource(domain.Source{ID: "x", Secrets: tt.secrets})
			if got := domain.ErrorCode(err); got != tt.want {
				t.Errorf("CheckSource = %v, want code %q", err, tt.want)
			}
		})
	}
}

// rewrite returns the fixture body with fields replaced (jwt claims given as claims).
func rewrite(t *testing.T, edit func(map[string]any), claims map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(read(t, "hook_payment.body.json"), &m); err != nil {
		t.Fatal(err)
	}
	if claims != nil {
		parts := strings.Split(m["jwt"].(string), ".")
		c, _ := json.Marshal(claims)
		parts[1] = base64.RawURLEncoding.EncodeToString(c)
		m["jwt"] = strings.Join(parts, ".")
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"hook_payment", read(t, "hook_payment.body.json")},
		{"hook_legacy_fields_jpy_millis", rewrite(t, func(m map[string]any) {
			m["transactionReference"] = m["reference"]
			delete(m, "reference")
			delete(m, "customReference")
			m["createdAt"] = 1764000000123
		}, map[string]any{"amount": 1500, "currency": "JPY", "custom_reference": "A-77"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := webhooktest.NormalizeAll(t, fygaro.Provider{}, src, domain.Delivery{Body: tt.body})
			webhooktest.Golden(t, filepath.Join(testdata, tt.name+".golden.json"), got)
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name   string
		body   []byte
		claims map[string]any
	}{
		{"amount not exact in currency", nil, map[string]any{"amount": "10.005", "currency": "USD"}},
		{"no currency", nil, map[string]any{"amount": "10.00"}},
		{"no jwt", rewrite(t, func(m map[string]any) { delete(m, "jwt") }, nil), nil},
		{"jwt not a jwt", rewrite(t, func(m map[string]any) { m["jwt"] = "nope" }, nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == nil {
				body = rewrite(t, nil, tt.claims)
			}
			msgs, err := fygaro.Provider{}.Parse(src, domain.Delivery{Body: body})
			if err != nil {
				t.Fatal(err)
			}
			_, err = fygaro.Provider{}.Normalize(src, msgs[0])
			if got := domain.ErrorCode(err); got != domain.EINVALID {
				t.Errorf("Normalize = %v, want %s", err, domain.EINVALID)
			}
		})
	}
}

func TestParseRejectsBodyWithoutReference(t *testing.T) {
	_, err := fygaro.Provider{}.Parse(src, domain.Delivery{Body: []byte(`{"customReference":"1"}`)})
	if got := domain.ErrorCode(err); got != domain.EINVALID {
		t.Errorf("Parse = %v, want %s", err, domain.EINVALID)
	}
}
