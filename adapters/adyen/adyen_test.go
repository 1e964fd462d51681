package adyen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/adyen"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/adyen"

const (
	key      = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00" // the KAT's key
	otherKey = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
)

var src = domain.Source{ID: "acme-adyen", Provider: adyen.Kind, Secrets: []string{key}}

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

type katFile struct {
	HMACKeyHex   string          `json:"hmac_key_hex"`
	SignedString string          `json:"signed_string"`
	Expected     string          `json:"expected"`
	Notification json.RawMessage `json:"notification"`
}

func loadKAT(t testing.TB) katFile {
	var k katFile
	if err := json.Unmarshal(read(t, "kat_adyen_go_hmacvalidator.json"), &k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKnownAnswerVector(t *testing.T) {
	k := loadKAT(t)
	s := domain.Source{ID: "kat", Secrets: []string{k.HMACKeyHex}}
	p := adyen.Provider{}
	d := domain.Delivery{Body: k.Notification, ReceivedAt: now}
	if err := p.Verify(context.Background(), s, d); err != nil {
		t.Fatalf("Verify(vector) = %v", err)
	}
	msgs, err := p.Parse(s, d)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Parse = %v, %v", msgs, err)
	}
	var it adyen.Item
	if err := json.Unmarshal(msgs[0].Payload, &it); err != nil {
		t.Fatal(err)
	}
	if got := it.SigningString(); got != k.SignedString {
		t.Errorf("SigningString = %q, want %q", got, k.SignedString)
	}
	if got, _ := adyen.Sign(k.HMACKeyHex, it); got != k.Expected {
		t.Errorf("Sign = %q, want %q", got, k.Expected)
	}
	// Change any one byte of any signed field: the delivery must be rejected.
	fields := []*string{&it.PSPReference, &it.OriginalReference, &it.MerchantAccountCode, &it.MerchantReference, &it.Amount.Currency, &it.EventCode, &it.Success}
	for fi, f := range fields {
		orig := *f
		for i := range orig {
			b := []byte(orig)
			b[i] ^= 0x20
			*f = string(b)
			body := batchOf(t, it)
			if err := p.Verify(context.Background(), s, domain.Delivery{Body: body}); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Fatalf("field %d byte %d changed: Verify = %v, want %s", fi, i, err, domain.EUNAUTHORIZED)
			}
		}
		*f = orig
	}
	for _, v := range []int64{1001, 100, 0, -1000} {
		it2 := it
		it2.Amount.Value = v
		if err := p.Verify(context.Background(), s, domain.Delivery{Body: batchOf(t, it2)}); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
			t.Errorf("value %d: Verify = %v, want %s", v, err, domain.EUNAUTHORIZED)
		}
	}
	if err := p.Verify(context.Background(), s, domain.Delivery{Body: batchOf(t, it)}); err != nil {
		t.Errorf("re-encoded vector: Verify = %v (only the signed fields count)", err)
	}
}

func batchOf(t testing.TB, its ...adyen.Item) []byte {
	t.Helper()
	var items []any
	for _, it := range its {
		items = append(items, map[string]any{"NotificationRequestItem": it})
	}
	b, err := json.Marshal(map[string]any{"live": "false", "notificationItems": items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sample(t testing.TB, s domain.Source, typ string, o webhook.SampleOptions) domain.Delivery {
	t.Helper()
	r, err := adyen.Provider{}.Sample(s, typ, o)
	if err != nil {
		t.Fatalf("Sample(%q): %v", typ, err)
	}
	return webhooktest.Delivery(r, now)
}

func sampleItem(t testing.TB, d domain.Delivery) adyen.Item {
	t.Helper()
	msgs, err := adyen.Provider{}.Parse(src, d)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Parse = %v, %v", msgs, err)
	}
	var it adyen.Item
	if err := json.Unmarshal(msgs[0].Payload, &it); err != nil {
		t.Fatal(err)
	}
	return it
}

func ids(ms []domain.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// TestContract is webhooktest.Contract restated for a scheme that signs fields in the
// body: there is no signature header to remove, and a byte outside the signed fields
// (eventDate, reason, additionalData) is not authenticated, so "tampered body" means a
// tampered signed field.
func TestContract(t *testing.T) {
	p := adyen.Provider{}
	if err := p.CheckSource(src); err != nil {
		t.Fatalf("CheckSource(valid) = %v", err)
	}
	for _, typ := range p.SampleTypes() {
		t.Run(typ, func(t *testing.T) {
			o := webhook.SampleOptions{EventID: "evt_contract_1", OrderRef: "1001", SKU: "SKU-1", Quantity: 2, Amount: 2500, Currency: "USD", Now: now}
			d := sample(t, src, typ, o)
			t.Run("signed sample verifies, parses and normalizes", func(t *testing.T) {
				if err := p.Verify(context.Background(), src, d); err != nil {
					t.Fatalf("Verify = %v", err)
				}
				msgs, err := p.Parse(src, d)
				if err != nil || len(msgs) == 0 {
					t.Fatalf("Parse = %v, %v", msgs, err)
				}
				for _, m := range msgs {
					if m.ID == "" || !p.Handles(m.Type) {
						t.Errorf("message %+v: no id or not handled", m)
					}
					evs, err := p.Normalize(src, m)
					if err != nil {
						t.Fatalf("Normalize = %v", err)
					}
					for _, e := range evs {
						if e.Provider != adyen.Kind || e.Source != src.ID || e.EventID == "" || e.Type == "" || e.OrderRef != "1001" {
							t.Errorf("event lacks provenance or order: %+v", e)
						}
					}
				}
			})
			t.Run("duplicate delivery has the same dedupe key, another event another", func(t *testing.T) {
				m1, _ := p.Parse(src, d)
				m2, _ := p.Parse(src, sample(t, src, typ, o))
				if diff := cmp.Diff(ids(m1), ids(m2)); diff != "" {
					t.Errorf("dedupe keys differ (-first +second):\n%s", diff)
				}
				o2 := o
				o2.EventID = "evt_contract_2"
				m3, _ := p.Parse(src, sample(t, src, typ, o2))
				if slices.Equal(ids(m1), ids(m3)) {
					t.Errorf("two events share dedupe keys %v", ids(m1))
				}
			})
			t.Run("empty secret list is rejected", func(t *testing.T) {
				none := src
				none.Secrets = nil
				if err := p.Verify(context.Background(), none, d); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
					t.Errorf("Verify = %v", err)
				}
			})
			t.Run("missing signature is rejected", func(t *testing.T) {
				it := sampleItem(t, d)
				delete(it.AdditionalData, "hmacSignature")
				if err := p.Verify(context.Background(), src, domain.Delivery{Body: batchOf(t, it)}); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
					t.Errorf("Verify = %v", err)
				}
			})
			t.Run("tampered signed field is rejected", func(t *testing.T) {
				edits := map[string]func(*adyen.Item){
					"pspReference":      func(it *adyen.Item) { it.PSPReference += "X" },
					"originalReference": func(it *adyen.Item) { it.OriginalReference += "X" },
					"merchantAccount":   func(it *adyen.Item) { it.MerchantAccountCode += "X" },
					"merchantReference": func(it *adyen.Item) { it.MerchantReference = "1002" },
					"value":             func(it *adyen.Item) { it.Amount.Value++ },
					"currency":          func(it *adyen.Item) { it.Amount.Currency = "GBP" },
					"eventCode":         func(it *adyen.Item) { it.EventCode += "X" },
					"success":           func(it *adyen.Item) { it.Success = "false" },
				}
				for name, edit := range edits {
					it := sampleItem(t, d)
					edit(&it)
					if err := p.Verify(context.Background(), src, domain.Delivery{Body: batchOf(t, it)}); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
						t.Errorf("%s changed: Verify = %v", name, err)
					}
				}
				for _, i := range []int{0, len(d.Body) - 1} { // the JSON frame
					bad := bytes.Clone(d.Body)
					bad[i] ^= 0x01
					if err := p.Verify(context.Background(), src, domain.Delivery{Body: bad}); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
						t.Errorf("byte %d changed: Verify = %v", i, err)
					}
				}
			})
			t.Run("one bad item rejects the whole batch", func(t *testing.T) {
				good := sampleItem(t, d)
				bad := good
				bad.PSPReference = "FORGED0000000000"
				if err := p.Verify(context.Background(), src, domain.Delivery{Body: batchOf(t, good, bad)}); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
					t.Errorf("Verify = %v", err)
				}
			})
			t.Run("wrong secret is rejected", func(t *testing.T) {
				other := src
				other.Secrets = []string{otherKey}
				if err := p.Verify(context.Background(), other, d); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
					t.Errorf("Verify = %v", err)
				}
			})
			t.Run("older rotated secret is accepted", func(t *testing.T) {
				rotated := src
				rotated.Secrets = []string{otherKey, key}
				if err := p.Verify(context.Background(), rotated, d); err != nil {
					t.Errorf("Verify = %v", err)
				}
			})
		})
	}
	t.Run("unknown event type is not handled", func(t *testing.T) {
		if p.Handles("tradewind.no_such_event") || p.Handles("OFFER_CLOSED") {
			t.Error("Handles(unknown) = true")
		}
	})
}

func TestBatchYieldsOneMessagePerItem(t *testing.T) {
	p := adyen.Provider{}
	o := webhook.SampleOptions{OrderRef: "1001", Amount: 1000, Currency: "EUR", Now: now}
	var its []adyen.Item
	for _, typ := range []string{"AUTHORISATION", "CAPTURE", "REFUND"} {
		o.EventID = "e-" + typ
		its = append(its, sampleItem(t, sample(t, src, typ, o)))
	}
	d := domain.Delivery{Body: batchOf(t, its...), ReceivedAt: now}
	if err := p.Verify(context.Background(), src, d); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	msgs, err := p.Parse(src, d)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Type)
		var it adyen.Item
		if err := json.Unmarshal(m.Payload, &it); err != nil || it.ID() != m.ID {
			t.Errorf("payload of %s is not its own item: %v", m.ID, err)
		}
	}
	if diff := cmp.Diff([]string{"AUTHORISATION", "CAPTURE", "REFUND"}, got); diff != "" {
		t.Errorf("types (-want +got):\n%s", diff)
	}
}

func TestCheckSource(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		want    string
	}{
		{"valid", []string{key}, ""},
		{"rotation", []string{otherKey, key}, ""},
		{"none", nil, domain.EINVALID},
		{"not hex", []string{"not-a-hex-key"}, domain.EINVALID},
		{"empty", []string{""}, domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := adyen.Provider{}.CheckSource(domain.Source{ID: "a", Secrets: tt.secrets})
			if got := domain.ErrorCode(err); got != tt.want {
				t.Errorf("CheckSource = %v, want code %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "not-a-hex-key") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestGolden(t *testing.T) {
	k := loadKAT(t)
	tests := []struct {
		name string
		body []byte
	}{
		{"adyen_go_AUTHORISATION", read(t, "adyen_go_AUTHORISATION.json")},
		{"adyen_go_CAPTURE", read(t, "adyen_go_CAPTURE.json")},
		{"adyen_go_OFFER_CLOSED", read(t, "adyen_go_OFFER_CLOSED.json")},
		{"kat_notification_EVENT", k.Notification},
		// The AUTHORISATION fixture in rupiah: Adyen's value 150000 is Rp 150,000 (Adyen
		// writes IDR with 0 decimals), 15000000 in ISO minor units (2).
		{"adyen_go_AUTHORISATION_IDR", withAmount(t, "IDR", 150000)},
		// …and in Icelandic krónur: Adyen's 279000 is 2,790 kr. (Adyen 2 decimals, ISO 0).
		{"adyen_go_AUTHORISATION_ISK", withAmount(t, "ISK", 279000)},
		// Adyen's dispute examples (SOURCE.md): the dispute is its pspReference, the payment
		// originalReference where the example gives one.
		{"adyen_docs_NOTIFICATION_OF_CHARGEBACK", read(t, "adyen_docs_NOTIFICATION_OF_CHARGEBACK.json")},
		{"adyen_docs_CHARGEBACK", read(t, "adyen_docs_CHARGEBACK.json")},
		{"adyen_docs_CHARGEBACK_REVERSED", read(t, "adyen_docs_CHARGEBACK_REVERSED.json")},
		{"adyen_docs_SECOND_CHARGEBACK", read(t, "adyen_docs_SECOND_CHARGEBACK.json")},
		{"adyen_docs_PREARBITRATION_LOST", read(t, "adyen_docs_PREARBITRATION_LOST.json")},
		// The CAPTURE fixture as the REFUND_FAILED of a refund PSP_REFERENCE: it stops counting.
		{"adyen_go_REFUND_FAILED", withEventCode(t, "adyen_go_CAPTURE.json", "REFUND_FAILED")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := webhooktest.NormalizeAll(t, adyen.Provider{}, src, domain.Delivery{Body: tt.body})
			webhooktest.Golden(t, filepath.Join(testdata, tt.name+".golden.json"), got)
		})
	}
}

func TestNormalizeEvents(t *testing.T) {
	base := adyen.Item{
		Amount: adyen.Amount{Value: 1500, Currency: "eur"}, MerchantAccountCode: "M", MerchantReference: "1001",
		PSPReference: "PSPMOD", OriginalReference: "PSPAUTH", Success: "true", EventDate: "2026-01-02T03:04:05+01:00",
	}
	type want struct {
		Type       domain.EventType
		PaymentRef string
		RefundRef  string
		Status     string
	}
	tests := []struct {
		name    string
		code    string
		success string
		want    []want
	}{
		{"authorisation ok", "AUTHORISATION", "true", []want{{domain.PaymentAuthorized, "PSPMOD", "", ""}}},
		{"authorisation refused", "AUTHORISATION", "false", []want{{domain.PaymentFailed, "PSPMOD", "", ""}}},
		{"capture", "CAPTURE", "true", []want{{domain.PaymentSucceeded, "PSPAUTH", "", ""}}},
		{"capture failed", "CAPTURE_FAILED", "true", []want{{domain.PaymentFailed, "PSPAUTH", "", ""}}},
		{"cancellation", "CANCELLATION", "true", []want{{domain.PaymentFailed, "PSPAUTH", "", ""}}},
		{"cancellation failed", "CANCELLATION", "false", nil},
		{"refund", "REFUND", "true", []want{{domain.PaymentRefunded, "PSPAUTH", "PSPMOD", ""}}},
		{"refund refused", "REFUND", "false", nil},
		{"refund failed", "REFUND_FAILED", "true", []want{{domain.RefundFailed, "PSPAUTH", "PSPMOD", ""}}},
		{"refunded reversed", "REFUNDED_REVERSED", "true", []want{{domain.RefundFailed, "PSPAUTH", "PSPMOD", ""}}},
		{"request for information", "REQUEST_FOR_INFORMATION", "true", []want{{domain.DisputeOpened, "PSPAUTH", "", "request_for_information/open/1"}}},
		{"notification of chargeback", "NOTIFICATION_OF_CHARGEBACK", "true", []want{{domain.DisputeOpened, "PSPAUTH", "", "notification_of_chargeback/open/1"}}},
		{"information supplied", "INFORMATION_SUPPLIED", "true", []want{{domain.DisputeOpened, "PSPAUTH", "", "information_supplied/open/2"}}},
		{"chargeback", "CHARGEBACK", "true", []want{{domain.DisputeOpened, "PSPAUTH", "", "chargeback/open/3"}}},
		{"defense period ended", "DISPUTE_DEFENSE_PERIOD_ENDED", "true", []want{{domain.DisputeClosed, "PSPAUTH", "", "dispute_defense_period_ended/lost/4"}}},
		{"chargeback reversed", "CHARGEBACK_REVERSED", "true", []want{{domain.DisputeClosed, "PSPAUTH", "", "chargeback_reversed/won/5"}}},
		{"second chargeback", "SECOND_CHARGEBACK", "true", []want{{domain.DisputeClosed, "PSPAUTH", "", "second_chargeback/lost/6"}}},
		{"prearbitration won", "PREARBITRATION_WON", "true", []want{{domain.DisputeClosed, "PSPAUTH", "", "prearbitration_won/won/7"}}},
		{"prearbitration lost", "PREARBITRATION_LOST", "true", []want{{domain.DisputeClosed, "PSPAUTH", "", "prearbitration_lost/lost/7"}}},
		{"notification of fraud is no dispute", "NOTIFICATION_OF_FRAUD", "true", nil},
		{"offer closed", "OFFER_CLOSED", "true", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := base
			it.EventCode, it.Success = tt.code, tt.success
			payload, _ := json.Marshal(it)
			evs, err := adyen.Provider{}.Normalize(src, domain.Message{ID: it.ID(), Type: tt.code, Payload: payload})
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, e := range evs {
				w := want{Type: e.Type, PaymentRef: e.PaymentRef}
				if e.Payment != nil {
					w.RefundRef = e.Payment.RefundRef
					if e.Payment.Amount != 1500 || e.Payment.Currency != "EUR" {
						t.Errorf("payment = %+v, want 1500 EUR", e.Payment)
					}
				}
				if e.Dispute != nil {
					w.Status = fmt.Sprintf("%s/%s/%d", e.Dispute.Status, e.Dispute.Outcome, e.Dispute.Stage)
					if e.Dispute.Ref != "PSPMOD" || e.Dispute.Amount != 1500 {
						t.Errorf("dispute = %+v, want ref PSPMOD (the dispute's pspReference) and 1500", e.Dispute)
					}
				}
				if e.OrderRef != "1001" || !e.OccurredAt.Equal(time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)) {
					t.Errorf("order/time = %q %v", e.OrderRef, e.OccurredAt)
				}
				got = append(got, w)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzVerifyParse: nothing panics, and any body that verifies carries exactly the signed
// field tuples of a seed (the scheme signs fields, not bytes, so other bytes may differ).
func FuzzVerifyParse(f *testing.F) {
	p := adyen.Provider{}
	signed := map[string]bool{}
	for i, typ := range p.SampleTypes() {
		r, err := p.Sample(src, typ, webhook.SampleOptions{EventID: "seed-" + typ, OrderRef: "1001", Amount: 1999, Currency: "USD", Now: now})
		if err != nil {
			f.Fatal(err)
		}
		d := webhooktest.Delivery(r, now)
		msgs, err := p.Parse(src, d)
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range msgs {
			var it adyen.Item
			_ = json.Unmarshal(m.Payload, &it)
			signed[it.SigningString()] = true
		}
		f.Add(uint8(i), r.Body)
	}
	f.Add(uint8(0), read(f, "kat_adyen_go_hmacvalidator.json"))
	f.Fuzz(func(t *testing.T, _ uint8, body []byte) {
		d := domain.Delivery{Body: body, Header: http.Header{}, ReceivedAt: now}
		err := p.Verify(context.Background(), src, d)
		msgs, perr := p.Parse(src, d)
		if err == nil {
			if perr != nil {
				t.Fatalf("verified body does not parse: %v", perr)
			}
			for _, m := range msgs {
				var it adyen.Item
				if uerr := json.Unmarshal(m.Payload, &it); uerr != nil {
					t.Fatalf("verified item does not decode: %v", uerr)
				}
				if !signed[it.SigningString()] {
					t.Fatalf("a body verified with signed fields %q no seed signed", it.SigningString())
				}
			}
		}
		for _, m := range msgs {
			_, _ = p.Normalize(src, m)
		}
	})
}

// withEventCode is a fixture's batch with its item's eventCode replaced.
func withEventCode(t *testing.T, fixture, code string) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(read(t, fixture), &b); err != nil {
		t.Fatal(err)
	}
	b["notificationItems"].([]any)[0].(map[string]any)["NotificationRequestItem"].(map[string]any)["eventCode"] = code
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
