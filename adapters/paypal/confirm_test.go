package paypal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// capture is a simulated PAYMENT.CAPTURE.COMPLETED delivery of 20.00 for order ref.
func capture(t *testing.T, src domain.Source, eventID, ref string) domain.Delivery {
	t.Helper()
	r, err := paypal.Provider{}.Sample(src, "PAYMENT.CAPTURE.COMPLETED", webhook.SampleOptions{EventID: eventID, OrderRef: ref, Amount: 2000, Quantity: 1, Currency: "USD", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return domain.Delivery{Header: r.Header, Body: r.Body, ReceivedAt: now}
}

func message(t *testing.T, src domain.Source, d domain.Delivery) domain.Message {
	t.Helper()
	msgs, err := paypal.Provider{}.Parse(src, d)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Parse = %v, %v", msgs, err)
	}
	return msgs[0]
}

func TestFetchConfirmsWithPayPalsCopyOfTheEvent(t *testing.T) {
	api := paypal.NewFakeAPI("client-1", "secret-1")
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	src := simSource(t)
	src.Settings["client_id"], src.Settings["client_secret"], src.Settings["api_base_url"] = "client-1", "secret-1", srv.URL
	if err := (paypal.Provider{}).CheckSource(src); err != nil {
		t.Fatalf("CheckSource(with credentials) = %v", err)
	}

	genuine := capture(t, src, "genuine", "1001")
	if err := api.Add(genuine.Body); err != nil {
		t.Fatal(err)
	}
	// A forged body under the genuine event's id: another amount.
	forged := strings.Replace(string(genuine.Body), `"value":"20.00"`, `"value":"2100.00"`, 1)
	if forged == string(genuine.Body) {
		t.Fatal("the sample's amount is no longer written as \"value\":\"20.00\"")
	}
	p := paypal.New(paypal.Options{Client: srv.Client()})
	tests := []struct {
		name string
		src  domain.Source
		msg  domain.Message
		want string // error code, "" for confirmed
	}{
		{"the genuine event is confirmed", src, message(t, src, genuine), ""},
		{"an event PayPal does not have is refused", src, message(t, src, capture(t, src, "invented", "1001")), domain.EUNAUTHORIZED},
		{"a body that differs from PayPal's copy is replaced by it", src, domain.Message{ID: "WH-genuine", Type: "PAYMENT.CAPTURE.COMPLETED", Payload: []byte(forged)}, ""},
		{"wrong credentials are retried, not refused", withSetting(src, "client_secret", "wrong"), message(t, src, genuine), domain.EUNAVAILABLE},
		{"without credentials nothing is checked", withSetting(withSetting(src, "client_id", ""), "client_secret", ""), message(t, src, capture(t, src, "invented", "1001")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Fetch(context.Background(), tt.src, tt.msg)
			if code := domain.ErrorCode(err); code != tt.want {
				t.Fatalf("Fetch = %v, want code %q", err, tt.want)
			}
			if err != nil {
				return
			}
			want := tt.msg.Payload
			if tt.src.Settings["client_id"] != "" {
				want = genuine.Body // what PayPal holds is what is applied
			}
			if string(got.Payload) != string(want) {
				t.Errorf("Fetch returned payload %s, want %s", got.Payload, want)
			}
		})
	}
	if tokens, _ := api.Calls(); tokens != 1 {
		t.Errorf("tokens issued = %d, want 1 (cached by the Provider)", tokens)
	}
	t.Run("PayPal down is retried", func(t *testing.T) {
		api.SetDown(true)
		defer api.SetDown(false)
		if _, err := paypal.New(paypal.Options{Client: srv.Client()}).Fetch(context.Background(), src, message(t, src, genuine)); domain.ErrorCode(err) != domain.EUNAVAILABLE {
			t.Fatalf("Fetch = %v, want %s", err, domain.EUNAVAILABLE)
		}
	})
}

func withSetting(src domain.Source, k, v string) domain.Source {
	s := src
	s.Settings = map[string]string{}
	for key, val := range src.Settings {
		s.Settings[key] = val
	}
	s.Settings[k] = v
	return s
}

func TestCheckSourceCredentials(t *testing.T) {
	src := simSource(t)
	for _, tt := range []struct {
		name, key, value string
	}{
		{"client_id without secret", "client_id", "abc"},
		{"client_secret without id", "client_secret", "abc"},
		{"api_base_url not a URL", "api_base_url", "api-m.paypal.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := paypal.Provider{}.CheckSource(withSetting(src, tt.key, tt.value))
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), tt.key) {
				t.Fatalf("CheckSource = %v, want %s naming %s", err, domain.EINVALID, tt.key)
			}
		})
	}
}

func TestTransmissionIsTheSignedIDUntilTheToleranceEnds(t *testing.T) {
	src := simSource(t)
	d := capture(t, src, "e1", "1001")
	got, ok := paypal.Provider{}.Transmission(src, d)
	sent, _ := time.Parse(time.RFC3339Nano, d.Header.Get(paypal.HeaderTransmissionTime))
	if !ok || got.ID != d.Header.Get(paypal.HeaderTransmissionID) || !got.Until.Equal(sent.Add(paypal.Tolerance+time.Minute)) {
		t.Fatalf("Transmission = %+v, %v; want the transmission id until %s", got, ok, sent.Add(paypal.Tolerance+time.Minute))
	}
	d.Header.Del(paypal.HeaderTransmissionID)
	if _, ok := (paypal.Provider{}).Transmission(src, d); ok {
		t.Error("Transmission without PAYPAL-TRANSMISSION-ID reported one")
	}
}

// TestCertificateFetchHasATimeout: a certificate URL that never answers costs at most
// FetchTimeout, and the delivery is answered retryable.
func TestCertificateFetchHasATimeout(t *testing.T) {
	k := loadKAT(t)
	s := domain.Source{ID: "kat", Settings: map[string]string{"webhook_id": k.webhookID}}
	hang := &roundTrip{serve: func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}}
	p := paypal.New(paypal.Options{Client: &http.Client{Transport: hang}, FetchTimeout: 50 * time.Millisecond, InsecureSkipCertChecks: true})
	if err := p.Verify(context.Background(), s, k.d); domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Fatalf("Verify with a hanging certificate URL = %v, want %s", err, domain.EUNAVAILABLE)
	}
}
