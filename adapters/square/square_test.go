package square_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/square"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/square"

var src = domain.Source{
	ID: "acme-square", Provider: square.Kind, Secrets: []string{"sq_sig_key_test"},
	Settings: map[string]string{"notification_url": "https://shop.example.com/webhooks/acme-square"},
}

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

type vector struct {
	SignatureKey    string `json:"signature_key"`
	NotificationURL string `json:"notification_url"`
	RawBody         string `json:"raw_body"`
	Expected        string `json:"expected"`
}

func TestKnownAnswerVectors(t *testing.T) {
	var kat struct {
		vector
		Extra []vector `json:"extra_vectors"`
	}
	if err := json.Unmarshal(read(t, "kat_square_go_sdk.json"), &kat); err != nil {
		t.Fatal(err)
	}
	if body := read(t, "square_go_sdk_webhooks.test_notification.body.json"); !bytes.Equal(body, []byte(kat.RawBody)) {
		t.Fatal("body file differs from the vector's raw_body")
	}
	p := square.Provider{}
	for i, v := range append([]vector{kat.vector}, kat.Extra...) {
		s := domain.Source{ID: "kat", Secrets: []string{v.SignatureKey}, Settings: map[string]string{"notification_url": v.NotificationURL}}
		body := []byte(v.RawBody)
		d := domain.Delivery{Header: http.Header{"X-Square-Hmacsha256-Signature": {v.Expected}}, Body: body}
		if err := p.Verify(context.Background(), s, d); err != nil {
			t.Fatalf("vector %d: Verify = %v", i, err)
		}
		if got := square.Sign(v.SignatureKey, v.NotificationURL, body); got != v.Expected {
			t.Errorf("vector %d: Sign = %s, want %s", i, got, v.Expected)
		}
		for j := range body {
			bad := d
			bad.Body = bytes.Clone(body)
			bad.Body[j] ^= 0x20
			if err := p.Verify(context.Background(), s, bad); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Fatalf("vector %d: Verify accepted the body with byte %d changed: %v", i, j, err)
			}
		}
		other := s
		other.Settings = map[string]string{"notification_url": v.NotificationURL + "/"}
		if err := p.Verify(context.Background(), other, d); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
			t.Errorf("vector %d: Verify with a different notification_url = %v, want %s", i, err, domain.EUNAUTHORIZED)
		}
	}
}

func TestContract(t *testing.T) {
	webhooktest.Contract(t, square.Provider{}, webhooktest.Options{Source: src, OtherSecret: "sq_other_key"})
}

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, square.Provider{}, webhooktest.Options{Source: src})
}

func TestCheckSource(t *testing.T) {
	tests := []struct {
		name     string
		secrets  []string
		settings map[string]string
		want     string
	}{
		{"valid", []string{"k"}, map[string]string{"notification_url": "https://x.example/webhooks/s"}, ""},
		{"reference_id field", []string{"k"}, map[string]string{"notification_url": "https://x.example/w", "order_ref_field": "reference_id"}, ""},
		{"no notification_url", []string{"k"}, nil, domain.EINVALID},
		{"relative notification_url", []string{"k"}, map[string]string{"notification_url": "/webhooks/s"}, domain.EINVALID},
		{"bad order_ref_field", []string{"k"}, map[string]string{"notification_url": "https://x.example/w", "order_ref_field": "metadata"}, domain.EINVALID},
		{"no secrets", nil, map[string]string{"notification_url": "https://x.example/w"}, domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := square.Provider{}.CheckSource(domain.Source{ID: "s", Secrets: tt.secrets, Settings: tt.settings})
			if got := domain.ErrorCode(err); got != tt.want {
				t.Errorf("CheckSource = %v, want code %q", err, tt.want)
			}
		})
	}
}

func TestVerifyWithoutNotificationURLFailsClosed(t *testing.T) {
	r, err := square.Provider{}.Sample(src, "payment.updated", webhooktestOptions())
	if err != nil {
		t.Fatal(err)
	}
	s := src
	s.Settings = nil
	if err := (square.Provider{}).Verify(context.Background(), s, domain.Delivery{Header: r.Header, Body: r.Body}); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("Verify = %v, want %s", err, domain.EUNAUTHORIZED)
	}
}

func TestGolden(t *testing.T) {
	refSrc := src
	refSrc.Settings = map[string]string{"notification_url": src.Settings["notification_url"], "order_ref_field": "reference_id"}
	tests := []struct {
		name string
		src  domain.Source
	}{
		{"square_go_sdk_webhooks.test_notification", src},
		{"payment_updated_completed", src},
		{"refund_updated_completed", src},
		{"order_updated_canceled", src},
		{"inventory_count_updated", src},
		{"dispute_created", src},
		{"dispute_state_updated_won", src},
		{"dispute_state_changed_legacy_lost", src},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := webhooktest.NormalizeAll(t, square.Provider{}, tt.src, domain.Delivery{Body: read(t, tt.name+".body.json")})
			webhooktest.Golden(t, filepath.Join(testdata, tt.name+".golden.json"), got)
		})
	}
	t.Run("order_ref_field reference_id", func(t *testing.T) {
		got := webhooktest.NormalizeAll(t, square.Provider{}, refSrc, domain.Delivery{Body: read(t, "payment_updated_completed.body.json")})
		if len(got) != 1 || got[0].OrderRef != "1001" {
			t.Errorf("OrderRef = %+v, want 1001 (the payment's reference_id)", got)
		}
	})
}

func TestPaymentStatuses(t *testing.T) {
	tests := []struct {
		name   string
		status string
		want   []domain.EventType
	}{
		{"approved", "APPROVED", []domain.EventType{domain.PaymentAuthorized}},
		{"completed", "COMPLETED", []domain.EventType{domain.PaymentSucceeded}},
		{"failed", "FAILED", []domain.EventType{domain.PaymentFailed}},
		{"canceled", "CANCELED", []domain.EventType{domain.PaymentFailed}},
		{"pending", "PENDING", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e map[string]any
			if err := json.Unmarshal(read(t, "payment_updated_completed.body.json"), &e); err != nil {
				t.Fatal(err)
			}
			e["data"].(map[string]any)["object"].(map[string]any)["payment"].(map[string]any)["status"] = tt.status
			b, _ := json.Marshal(e)
			var got []domain.EventType
			for _, ev := range webhooktest.NormalizeAll(t, square.Provider{}, src, domain.Delivery{Body: b}) {
				got = append(got, ev.Type)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("event types (-want +got):\n%s", diff)
			}
		})
	}
}

func webhooktestOptions() webhook.SampleOptions {
	return webhook.SampleOptions{EventID: "e1", OrderRef: "1"}
}

func TestFetchOrder(t *testing.T) {
	const order = `{"order":{"id":"eA3vssLHKJrv9H6IdJCM3gNqfdcZY","location_id":"FPYCBCHYMXFK1","state":"CANCELED","version":4,
"customer_id":"JDKYHBWT1D4F8MFH63DBMEN8Y4","created_at":"2020-04-16T23:14:26.129Z","updated_at":"2020-04-16T23:15:01.5Z",
"line_items":[{"uid":"1","catalog_object_id":"FGQ5MZ6LKWJB34BUZNKKXQQA","name":"Tee","quantity":"2","base_price_money":{"amount":1500,"currency":"USD"}},
{"uid":"2","name":"Gift wrap","quantity":"1","base_price_money":{"amount":299,"currency":"USD"}}],
"total_money":{"amount":3299,"currency":"USD"}}}`
	status := http.StatusOK
	var gotAuth string
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		gotAuth = r.Header.Get("Authorization")
		if r.URL.Path != "/v2/orders/eA3vssLHKJrv9H6IdJCM3gNqfdcZY" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		if status == http.StatusOK {
			w.Write([]byte(order))
		}
	}))
	defer srv.Close()
	withToken := src
	withToken.Settings = map[string]string{"notification_url": src.Settings["notification_url"], "access_token": "EAAA-test", "api_base_url": srv.URL}
	p := square.Provider{}
	msgs, err := p.Parse(src, domain.Delivery{Body: read(t, "order_updated_canceled.body.json")})
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]

	t.Run("without access_token the message is unchanged", func(t *testing.T) {
		got, err := p.Fetch(context.Background(), src, m)
		if err != nil || !bytes.Equal(got.Payload, m.Payload) || calls != 0 {
			t.Errorf("Fetch = %v, calls %d", err, calls)
		}
	})
	t.Run("other types are unchanged", func(t *testing.T) {
		pm, _ := p.Parse(src, domain.Delivery{Body: read(t, "payment_updated_completed.body.json")})
		got, err := p.Fetch(context.Background(), withToken, pm[0])
		if err != nil || !bytes.Equal(got.Payload, pm[0].Payload) || calls != 0 {
			t.Errorf("Fetch = %v, calls %d", err, calls)
		}
	})
	t.Run("fetched order is a full snapshot", func(t *testing.T) {
		got, err := p.Fetch(context.Background(), withToken, m)
		if err != nil {
			t.Fatal(err)
		}
		if gotAuth != "Bearer EAAA-test" {
			t.Errorf("Authorization = %q", gotAuth)
		}
		again, err := p.Fetch(context.Background(), withToken, got)
		if err != nil || !bytes.Equal(again.Payload, got.Payload) || calls != 1 {
			t.Errorf("second Fetch = %v, calls %d; want no new call", err, calls)
		}
		evs, err := p.Normalize(withToken, got)
		if err != nil {
			t.Fatal(err)
		}
		webhooktest.Golden(t, filepath.Join(testdata, "order_updated_canceled_fetched.golden.json"), evs)
	})
	for _, tt := range []struct {
		name   string
		status int
		want   string
	}{
		{"not found", http.StatusNotFound, domain.ENOTFOUND},
		{"token refused", http.StatusUnauthorized, domain.EUNAVAILABLE},
		{"rate limited", http.StatusTooManyRequests, domain.EUNAVAILABLE},
		{"server error", http.StatusInternalServerError, domain.EUNAVAILABLE},
		{"bad request", http.StatusBadRequest, domain.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status = tt.status
			if _, err := p.Fetch(context.Background(), withToken, m); domain.ErrorCode(err) != tt.want {
				t.Errorf("Fetch = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestDisputeStates: every state of Square's DisputeState is a stage and an outcome; the
// inquiry's states come before the chargeback's, a state Square adds is an open chargeback.
func TestDisputeStates(t *testing.T) {
	body := string(read(t, "dispute_state_updated_won.body.json"))
	tests := []struct {
		state   string
		event   domain.EventType
		stage   int
		outcome string
	}{
		{"INQUIRY_EVIDENCE_REQUIRED", domain.DisputeOpened, 1, domain.DisputeOpen},
		{"INQUIRY_PROCESSING", domain.DisputeOpened, 1, domain.DisputeOpen},
		{"INQUIRY_CLOSED", domain.DisputeClosed, 1, domain.DisputeWon},
		{"EVIDENCE_REQUIRED", domain.DisputeOpened, 2, domain.DisputeOpen},
		{"PROCESSING", domain.DisputeOpened, 2, domain.DisputeOpen},
		{"WON", domain.DisputeClosed, 2, domain.DisputeWon},
		{"LOST", domain.DisputeClosed, 2, domain.DisputeLost},
		{"ACCEPTED", domain.DisputeClosed, 2, domain.DisputeLost},
		{"WAITING_THIRD_PARTY", domain.DisputeOpened, 2, domain.DisputeOpen},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			b := strings.Replace(body, `"state": "WON"`, `"state": "`+tt.state+`"`, 1)
			got := webhooktest.NormalizeAll(t, square.Provider{}, src, domain.Delivery{Body: []byte(b)})
			if len(got) != 1 || got[0].Dispute == nil {
				t.Fatalf("events = %+v, want one dispute", got)
			}
			d := got[0].Dispute
			if got[0].Type != tt.event || d.Stage != tt.stage || d.Outcome != tt.outcome || d.Status != strings.ToLower(tt.state) {
				t.Errorf("%s stage %d outcome %s status %s, want %s stage %d outcome %s", got[0].Type, d.Stage, d.Outcome, d.Status, tt.event, tt.stage, tt.outcome)
			}
		})
	}
	t.Run("no payment", func(t *testing.T) {
		b := strings.Replace(body, `"payment_id": "fbmsaEOpoARDKxiSGH1fqPuqoqFZY"`, `"payment_id": ""`, 1)
		msgs, err := square.Provider{}.Parse(src, domain.Delivery{Body: []byte(b)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (square.Provider{}).Normalize(src, msgs[0]); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("Normalize = %v, want %s", err, domain.EINVALID)
		}
	})
}
