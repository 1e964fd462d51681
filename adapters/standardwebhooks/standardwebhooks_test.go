package standardwebhooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/standardwebhooks"
	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/standardwebhooks"

// The secret of the reference library's test vector.
var src = domain.Source{ID: "acme-generic", Provider: standardwebhooks.Kind, Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

type kat struct {
	Secret    string `json:"secret"`
	ID        string `json:"webhook-id"`
	Timestamp string `json:"webhook-timestamp"`
	Body      string `json:"raw_body"`
	Signature string `json:"webhook-signature"`
}

func loadKAT(t *testing.T) (kat, domain.Delivery) {
	var k kat
	if err := json.Unmarshal(read(t, "kat_standard_webhooks.json"), &k); err != nil {
		t.Fatal(err)
	}
	ts, err := strconv.ParseInt(k.Timestamp, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(stdwebhooks.IDHeader, k.ID)
	h.Set(stdwebhooks.TimestampHeader, k.Timestamp)
	h.Set(stdwebhooks.SignatureHeader, k.Signature)
	return k, domain.Delivery{Header: h, Body: []byte(k.Body), ReceivedAt: time.Unix(ts, 0)}
}

func TestKnownAnswerVector(t *testing.T) {
	k, d := loadKAT(t)
	s := domain.Source{ID: "kat", Secrets: []string{k.Secret}}
	p := standardwebhooks.Provider{}
	if err := p.Verify(context.Background(), s, d); err != nil {
		t.Fatalf("Verify(vector) = %v", err)
	}
	key, err := stdwebhooks.DecodeSecret(k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(k.Timestamp, 10, 64)
	if got := stdwebhooks.Signature(key, k.ID, ts, d.Body); got != k.Signature {
		t.Errorf("Signature = %q, want %q", got, k.Signature)
	}
	for i := range d.Body {
		bad := d
		bad.Body = []byte(k.Body)
		bad.Body[i] ^= 0x20
		if err := p.Verify(context.Background(), s, bad); err == nil {
			t.Fatalf("Verify accepted the vector with body byte %d changed", i)
		}
	}
	for i := range k.ID {
		bad := d
		bad.Header = d.Header.Clone()
		id := []byte(k.ID)
		id[i] ^= 0x01
		bad.Header.Set(stdwebhooks.IDHeader, string(id))
		if err := p.Verify(context.Background(), s, bad); err == nil {
			t.Fatalf("Verify accepted the vector with webhook-id byte %d changed", i)
		}
	}
	otherTS := d
	otherTS.Header = d.Header.Clone()
	otherTS.Header.Set(stdwebhooks.TimestampHeader, strconv.FormatInt(ts+1, 10))
	if err := p.Verify(context.Background(), s, otherTS); err == nil {
		t.Error("Verify accepted the vector with webhook-timestamp changed by one second")
	}
	late := d
	late.ReceivedAt = d.ReceivedAt.Add(301 * time.Second)
	if err := p.Verify(context.Background(), s, late); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("Verify 301 s after signing = %v, want %s", err, domain.EUNAUTHORIZED)
	}
	early := d
	early.ReceivedAt = d.ReceivedAt.Add(-301 * time.Second)
	if err := p.Verify(context.Background(), s, early); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("Verify 301 s before signing = %v, want %s", err, domain.EUNAUTHORIZED)
	}
}

func TestSignatureHeaderForms(t *testing.T) {
	k, d := loadKAT(t)
	good := k.Signature
	sig := strings.TrimPrefix(good, "v1,")
	s := domain.Source{ID: "kat", Secrets: []string{"whsec_" + "c2Vjb25kLWtleS1mb3Itcm90YXRpb24=", k.Secret}}
	tests := []struct {
		name   string
		header string
		ok     bool
	}{
		{"single entry", good, true},
		{"rotated: a stale entry then the good one", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + good, true},
		{"extra spaces", "  " + good + "  ", true},
		{"asymmetric v1a entry is skipped", "v1a," + sig, false},
		{"other version", "v2," + sig, false},
		{"not base64", "v1,%%%", false},
		{"no comma", "v1" + sig, false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dd := d
			dd.Header = d.Header.Clone()
			dd.Header.Set(stdwebhooks.SignatureHeader, tt.header)
			err := standardwebhooks.Provider{}.Verify(context.Background(), s, dd)
			if tt.ok && err != nil {
				t.Errorf("Verify = %v, want success", err)
			}
			if !tt.ok && domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Errorf("Verify = %v, want %s", err, domain.EUNAUTHORIZED)
			}
		})
	}
}

func TestMissingHeaders(t *testing.T) {
	_, d := loadKAT(t)
	s := domain.Source{ID: "kat", Secrets: src.Secrets}
	for _, h := range []string{stdwebhooks.IDHeader, stdwebhooks.TimestampHeader, stdwebhooks.SignatureHeader} {
		t.Run(h, func(t *testing.T) {
			dd := d
			dd.Header = d.Header.Clone()
			dd.Header.Del(h)
			err := standardwebhooks.Provider{}.Verify(context.Background(), s, dd)
			if domain.ErrorCode(err) != domain.EUNAUTHORIZED || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(h)) {
				t.Errorf("Verify without %s = %v, want %s naming the header", h, err, domain.EUNAUTHORIZED)
			}
		})
	}
}

func TestCheckSource(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		wantErr string
	}{
		{"whsec secret", []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, ""},
		{"bare base64 secret", []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, ""},
		{"no secrets", nil, "secrets:"},
		{"not base64", []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!"}, "secrets[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := standardwebhooks.Provider{}.CheckSource(domain.Source{ID: "s", Secrets: tt.secrets})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckSource = %v", err)
				}
				return
			}
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckSource = %v, want %s naming %q", err, domain.EINVALID, tt.wantErr)
			}
			for _, s := range tt.secrets {
				if s != "" && strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestContract(t *testing.T) {
	webhooktest.Contract(t, standardwebhooks.Provider{}, webhooktest.Options{Source: src, OtherSecret: "whsec_b3RoZXItc2VjcmV0LWtleQ==", Timestamped: true})
}

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, standardwebhooks.Provider{}, webhooktest.Options{Source: src})
}

// signed delivers body as a Standard Webhooks message signed with src's secret.
func signed(t *testing.T, id string, body []byte, at time.Time) domain.Delivery {
	t.Helper()
	key, err := stdwebhooks.DecodeSecret(src.Secrets[0])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	stdwebhooks.SetHeaders(h, key, id, at.Unix(), body)
	d := domain.Delivery{Header: h, Body: body, ReceivedAt: at}
	if err := (standardwebhooks.Provider{}).Verify(context.Background(), src, d); err != nil {
		t.Fatalf("Verify(%s) = %v", id, err)
	}
	return d
}

func TestGolden(t *testing.T) {
	at := time.Date(2026, 11, 24, 12, 0, 5, 0, time.UTC)
	for _, name := range []string{"order_placed", "payment_refunded", "inventory_level_set", "customer_upserted", "unknown_type_ignored"} {
		t.Run(name, func(t *testing.T) {
			d := signed(t, "msg_golden_"+name, read(t, name+".body.json"), at)
			got := webhooktest.NormalizeAll(t, standardwebhooks.Provider{}, src, d)
			webhooktest.Golden(t, filepath.Join(testdata, name+".golden.json"), got)
		})
	}
}

func TestParseAndNormalizeRejects(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // part of the message
	}{
		{"reference vector body has no type", `{"test": 2432232314}`, `lacks "type"`},
		{"not JSON", `type=OrderPlaced`, "not a Standard Webhooks JSON payload"},
		{"no data", `{"type":"OrderPlaced"}`, "lacks the data object"},
		{"misspelt key", `{"type":"OrderPlaced","data":{"order_ref":"1","order":{"currency":"USD","totl":5}}}`, `unknown field "totl"`},
		{"missing order_ref", `{"type":"OrderPlaced","data":{"order":{"currency":"USD","total":5}}}`, "order_ref is required"},
		{"wrong part", `{"type":"OrderPlaced","data":{"order_ref":"1","payment":{"amount":5,"currency":"USD"}}}`, "data.payment does not belong"},
		{"missing part", `{"type":"InventoryLevelSet","data":{}}`, "data.stock is required"},
		{"bad currency", `{"type":"PaymentSucceeded","data":{"payment_ref":"p","payment":{"amount":5,"currency":"US"}}}`, "currency"},
		{"float amount", `{"type":"PaymentSucceeded","data":{"payment_ref":"p","payment":{"amount":5.5,"currency":"USD"}}}`, "amount"},
		{"status contradicts type", `{"type":"OrderCancelled","data":{"order_ref":"1","order":{"status":"placed","currency":"USD","total":5}}}`, "contradicts"},
		{"unknown status", `{"type":"OrderUpdated","data":{"order_ref":"1","order":{"status":"shipped","currency":"USD","total":5}}}`, "must be placed, fulfilled or cancelled"},
		{"negative amount", `{"type":"PaymentRefunded","data":{"payment_ref":"p","payment":{"amount":-5,"currency":"USD"}}}`, "must not be negative"},
		{"refund_ref on a capture", `{"type":"PaymentSucceeded","data":{"payment_ref":"p","payment":{"amount":5,"currency":"USD","refund_ref":"r"}}}`, "belong to PaymentRefunded"},
		{"line without sku", `{"type":"OrderPlaced","data":{"order_ref":"1","order":{"currency":"USD","total":5,"lines":[{"quantity":1,"unit_price":5}]}}}`, "lines[0]"},
		{"bad occurred_at", `{"type":"InventoryLevelSet","data":{"occurred_at":"yesterday","stock":{"sku":"A","on_hand":1}}}`, "occurred_at"},
		{"customer without ref", `{"type":"CustomerUpserted","data":{"customer":{"email":"a@b.c"}}}`, "customer_ref is required"},
	}
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	p := standardwebhooks.Provider{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := signed(t, "msg_reject", []byte(tt.body), at)
			msgs, err := p.Parse(src, d)
			if err == nil {
				_, err = p.Normalize(src, msgs[0])
			}
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse+Normalize = %v, want %s containing %q", err, domain.EINVALID, tt.want)
			}
		})
	}
}

func TestOrderStatusDefaultsByType(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		want domain.OrderStatus
	}{
		{"placed", "OrderPlaced", domain.StatusPlaced},
		{"updated", "OrderUpdated", domain.StatusPlaced},
		{"cancelled", "OrderCancelled", domain.StatusCancelled},
		{"fulfilled", "OrderFulfilled", domain.StatusFulfilled},
	}
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"type":"` + tt.typ + `","data":{"order_ref":"1","order":{"currency":"jpy","total":500}}}`
			evs := webhooktest.NormalizeAll(t, standardwebhooks.Provider{}, src, signed(t, "msg_1", []byte(body), at))
			if len(evs) != 1 || evs[0].Order.Status != tt.want || evs[0].Order.Currency != "JPY" || !evs[0].OccurredAt.Equal(at) {
				t.Fatalf("events = %+v, want one %s order in JPY at the webhook-timestamp", evs, tt.want)
			}
		})
	}
}
