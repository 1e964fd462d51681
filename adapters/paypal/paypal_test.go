package paypal_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const (
	testdata = "../../testdata/paypal"
	kat      = "paypal_node_sdk_PAYMENT.SALE.COMPLETED"
	katPEM   = "paypal_sandbox_CERT-360caa42-fca2a594-a5cafa77.pem"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

// simSource is a source whose cert_file pins the simulator's certificate.
func simSource(t testing.TB) domain.Source {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sim.pem")
	if err := paypal.WriteSimulatorCert(path); err != nil {
		t.Fatal(err)
	}
	return domain.Source{ID: "acme-paypal", Provider: paypal.Kind, Settings: map[string]string{"webhook_id": "8PT597110X687430LKGECATA", "cert_file": path}}
}

type katDelivery struct {
	d         domain.Delivery
	webhookID string
	signed    string
	certURL   string
}

func loadKAT(t testing.TB) katDelivery {
	var h map[string]string
	if err := json.Unmarshal(read(t, kat+".headers.json"), &h); err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	for k, v := range h {
		if !strings.HasPrefix(k, "_") {
			hdr.Set(k, v)
		}
	}
	at, err := time.Parse(time.RFC3339, h["PAYPAL-TRANSMISSION-TIME"])
	if err != nil {
		t.Fatal(err)
	}
	return katDelivery{
		d:         domain.Delivery{Header: hdr, Body: read(t, kat+".body.json"), ReceivedAt: at.Add(2 * time.Second)},
		webhookID: h["_webhook_id"], signed: h["_expected_signed_string"], certURL: h["PAYPAL-CERT-URL"],
	}
}

func TestKnownAnswerVector(t *testing.T) {
	k := loadKAT(t)
	s := domain.Source{ID: "kat", Settings: map[string]string{"webhook_id": k.webhookID, "cert_file": filepath.Join(testdata, katPEM)}}
	h := k.d.Header
	if got := string(paypal.SignedMessage(h.Get("Paypal-Transmission-Id"), h.Get("Paypal-Transmission-Time"), k.webhookID, k.d.Body)); got != k.signed {
		t.Fatalf("SignedMessage = %q, want %q", got, k.signed)
	}
	// The pinned certificate is valid at the delivery's own time: no check is skipped.
	p := paypal.Provider{}
	if err := p.Verify(context.Background(), s, k.d); err != nil {
		t.Fatalf("Verify(vector) = %v", err)
	}
	for i := range k.d.Body {
		bad := k.d
		bad.Body = bytes.Clone(k.d.Body)
		bad.Body[i] ^= 0x20
		if err := p.Verify(context.Background(), s, bad); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
			t.Fatalf("Verify accepted the vector with byte %d changed: %v", i, err)
		}
	}
	tests := []struct {
		name string
		edit func(*domain.Source, *domain.Delivery)
	}{
		{"wrong webhook id", func(s *domain.Source, _ *domain.Delivery) { s.Settings["webhook_id"] = "4JH86294D6297924H" }},
		{"transmission id changed", func(_ *domain.Source, d *domain.Delivery) {
			d.Header.Set("Paypal-Transmission-Id", "dfb3be50-fd74-11e4-8bf3-77339302725c")
		}},
		{"transmission time changed", func(_ *domain.Source, d *domain.Delivery) {
			d.Header.Set("Paypal-Transmission-Time", "2015-05-18T15:45:14Z")
		}},
		{"received 6 minutes later", func(_ *domain.Source, d *domain.Delivery) { d.ReceivedAt = d.ReceivedAt.Add(6 * time.Minute) }},
		{"other algorithm", func(_ *domain.Source, d *domain.Delivery) { d.Header.Set("Paypal-Auth-Algo", "SHA1withRSA") }},
		{"signature byte changed", func(_ *domain.Source, d *domain.Delivery) {
			sig, _ := base64.StdEncoding.DecodeString(d.Header.Get("Paypal-Transmission-Sig"))
			sig[10] ^= 1
			d.Header.Set("Paypal-Transmission-Sig", base64.StdEncoding.EncodeToString(sig))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s2 := s
			s2.Settings = map[string]string{"webhook_id": k.webhookID, "cert_file": s.Settings["cert_file"]}
			d := k.d
			d.Header = k.d.Header.Clone()
			tt.edit(&s2, &d)
			if err := p.Verify(context.Background(), s2, d); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Errorf("Verify = %v, want %s", err, domain.EUNAUTHORIZED)
			}
		})
	}
}

// roundTrip is an http.RoundTripper that serves certificates without a network.
type roundTrip struct {
	calls atomic.Int32
	serve func(*http.Request) (*http.Response, error)
}

func (r *roundTrip) RoundTrip(req *http.Request) (*http.Response, error) {
	r.calls.Add(1)
	return r.serve(req)
}

func servePEM(b []byte, status int) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(b)), Header: http.Header{}}, nil
	}
}

func TestFetchedCertificate(t *testing.T) {
	k := loadKAT(t)
	s := domain.Source{ID: "kat", Settings: map[string]string{"webhook_id": k.webhookID}}
	rt := &roundTrip{serve: servePEM(read(t, katPEM), http.StatusOK)}
	client := &http.Client{Transport: rt}

	// The sandbox certificate's chain is not published with it (and it expired in 2017):
	// production checks reject it; the test-only option accepts it.
	if err := (paypal.New(paypal.Options{Client: client})).Verify(context.Background(), s, k.d); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("Verify with chain checks = %v, want %s", err, domain.EUNAUTHORIZED)
	}
	// Each Provider has its own cache: p downloads once for its three deliveries.
	rt.calls.Store(0)
	p := paypal.New(paypal.Options{Client: client, InsecureSkipCertChecks: true})
	for range 3 {
		if err := p.Verify(context.Background(), s, k.d); err != nil {
			t.Fatalf("Verify with fetched certificate = %v", err)
		}
	}
	if n := rt.calls.Load(); n != 1 {
		t.Errorf("certificate fetched %d times, want 1 (cached by URL)", n)
	}

	hosts := []struct {
		name string
		url  string
	}{
		{"http", "http://api.sandbox.paypal.com/v1/notifications/certs/CERT-x"},
		{"other host", "https://evil.example.com/cert.pem"},
		{"suffix trick", "https://api.paypal.com.evil.example/cert.pem"},
		{"lookalike", "https://evilpaypal.com/cert.pem"},
		{"userinfo", "https://api.paypal.com@evil.example/cert.pem"},
		{"other port", "https://api.paypal.com:8443/cert.pem"},
		{"missing", ""},
	}
	for _, tt := range hosts {
		t.Run(tt.name, func(t *testing.T) {
			rt := &roundTrip{serve: servePEM(read(t, katPEM), http.StatusOK)}
			d := k.d
			d.Header = k.d.Header.Clone()
			d.Header.Set("Paypal-Cert-Url", tt.url)
			err := paypal.New(paypal.Options{Client: &http.Client{Transport: rt}, InsecureSkipCertChecks: true}).Verify(context.Background(), s, d)
			if domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Errorf("Verify = %v, want %s", err, domain.EUNAUTHORIZED)
			}
			if n := rt.calls.Load(); n != 0 {
				t.Errorf("%d requests made to a refused URL", n)
			}
		})
	}

	t.Run("gateway down is unavailable", func(t *testing.T) {
		d := k.d
		d.Header = k.d.Header.Clone()
		d.Header.Set("Paypal-Cert-Url", "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-down")
		rt := &roundTrip{serve: servePEM([]byte("oops"), http.StatusBadGateway)}
		err := paypal.New(paypal.Options{Client: &http.Client{Transport: rt}, InsecureSkipCertChecks: true}).Verify(context.Background(), s, d)
		if domain.ErrorCode(err) != domain.EUNAVAILABLE {
			t.Errorf("Verify = %v, want %s", err, domain.EUNAVAILABLE)
		}
	})
}

// TestFetchedChainChecks signs with a leaf issued by a test CA to PayPal's host name and
// checks the production path: chain to Roots, host name, validity at ReceivedAt.
func TestFetchedChainChecks(t *testing.T) {
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(5, 0, 0)}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	leafKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	leaf := func(host string, notAfter time.Time) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
			NotBefore: now.AddDate(-1, 0, 0), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca, &leafKey.PublicKey, caKey)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	body := []byte(`{"id":"WH-1","event_type":"PAYMENT.SALE.COMPLETED","resource":{}}`)
	ts := now.Format(time.RFC3339)
	digest := sha256.Sum256(paypal.SignedMessage("tid-1", ts, "WHID", body))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, leafKey, crypto.SHA256, digest[:])
	s := domain.Source{ID: "pp", Settings: map[string]string{"webhook_id": "WHID"}}
	tests := []struct {
		name string
		pem  []byte
		ok   bool
	}{
		{"paypal host, valid", leaf("messageverificationcerts.paypal.com", now.AddDate(1, 0, 0)), true},
		{"sandbox host, valid", leaf("messageverificationcerts.sandbox.paypal.com", now.AddDate(1, 0, 0)), true},
		{"other host", leaf("www.example.com", now.AddDate(1, 0, 0)), false},
		{"expired at ReceivedAt", leaf("messageverificationcerts.paypal.com", now.Add(-time.Hour)), false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("Paypal-Transmission-Id", "tid-1")
			h.Set("Paypal-Transmission-Time", ts)
			h.Set("Paypal-Transmission-Sig", base64.StdEncoding.EncodeToString(sig))
			h.Set("Paypal-Auth-Algo", "SHA256withRSA")
			h.Set("Paypal-Cert-Url", "https://api.paypal.com/v1/notifications/certs/CERT-chain-"+string(rune('a'+i)))
			p := paypal.New(paypal.Options{Client: &http.Client{Transport: &roundTrip{serve: servePEM(tt.pem, http.StatusOK)}}, Roots: roots})
			err := p.Verify(context.Background(), s, domain.Delivery{Header: h, Body: body, ReceivedAt: now})
			if tt.ok != (err == nil) {
				t.Errorf("Verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestPinnedCertificateValidityAtReceivedAt(t *testing.T) {
	s := simSource(t)
	r, err := paypal.Provider{}.Sample(s, "PAYMENT.CAPTURE.COMPLETED", webhook.SampleOptions{EventID: "e1", OrderRef: "1", Now: time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	d := webhooktest.Delivery(r, time.Date(2101, 1, 1, 0, 0, 1, 0, time.UTC)) // the simulator's cert ends in 2100
	if err := (paypal.Provider{}).Verify(context.Background(), s, d); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("Verify after the pinned certificate expired = %v, want %s", err, domain.EUNAUTHORIZED)
	}
	if err := (paypal.New(paypal.Options{InsecureSkipCertChecks: true})).Verify(context.Background(), s, d); err != nil {
		t.Errorf("Verify with the test-only option = %v", err)
	}
}

func ids(ms []domain.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// otherCertFile writes a self-signed certificate of a key the simulator does not hold.
func otherCertFile(t *testing.T) string {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "other"}, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	path := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestContract is webhooktest.Contract with PayPal's meaning of "secret": PayPal has no
// shared secret, so "no secret" is a source without webhook_id, "wrong secret" a delivery
// for another webhook id or a certificate that did not sign it, and "rotation" a
// cert_file listing the new certificate and the old.
func TestContract(t *testing.T) {
	p := paypal.Provider{}
	src := simSource(t)
	other := otherCertFile(t)
	if err := p.CheckSource(src); err != nil {
		t.Fatalf("CheckSource(valid) = %v", err)
	}
	reject := func(t *testing.T, s domain.Source, d domain.Delivery, what string) {
		t.Helper()
		if err := p.Verify(context.Background(), s, d); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
			t.Errorf("%s: Verify = %v, want %s", what, err, domain.EUNAUTHORIZED)
		}
	}
	with := func(k, v string) domain.Source {
		s := src
		s.Settings = map[string]string{"webhook_id": src.Settings["webhook_id"], "cert_file": src.Settings["cert_file"]}
		s.Settings[k] = v
		return s
	}
	for _, typ := range p.SampleTypes() {
		t.Run(typ, func(t *testing.T) {
			o := webhook.SampleOptions{EventID: "evt_contract_1", OrderRef: "1001", Amount: 2500, Currency: "USD", Now: now}
			r, err := p.Sample(src, typ, o)
			if err != nil {
				t.Fatal(err)
			}
			d := webhooktest.Delivery(r, now)
			t.Run("signed sample verifies, parses and normalizes", func(t *testing.T) {
				if err := p.Verify(context.Background(), src, d); err != nil {
					t.Fatalf("Verify = %v", err)
				}
				msgs, err := p.Parse(src, d)
				if err != nil || len(msgs) != 1 {
					t.Fatalf("Parse = %v, %v", msgs, err)
				}
				if !p.Handles(msgs[0].Type) {
					t.Errorf("Handles(%q) = false", msgs[0].Type)
				}
				evs, err := p.Normalize(src, msgs[0])
				if err != nil || len(evs) != 1 {
					t.Fatalf("Normalize = %v, %v", evs, err)
				}
				// A reversal names only its capture, as PayPal's published sample does: the
				// order is reached through the capture's payment (PaymentRef).
				wantOrder := "1001"
				if typ == "PAYMENT.CAPTURE.REVERSED" {
					wantOrder = ""
				}
				if e := evs[0]; e.Provider != paypal.Kind || e.Source != src.ID || e.EventID == "" || e.OrderRef != wantOrder || e.PaymentRef == "" {
					t.Errorf("event lacks provenance or order: %+v", e)
				}
			})
			t.Run("duplicate delivery has the same dedupe key, another event another", func(t *testing.T) {
				again, _ := p.Sample(src, typ, o)
				m1, _ := p.Parse(src, d)
				m2, _ := p.Parse(src, webhooktest.Delivery(again, now))
				if diff := cmp.Diff(ids(m1), ids(m2)); diff != "" {
					t.Errorf("(-first +second):\n%s", diff)
				}
				o2 := o
				o2.EventID = "evt_contract_2"
				r3, _ := p.Sample(src, typ, o2)
				m3, _ := p.Parse(src, webhooktest.Delivery(r3, now))
				if slices.Equal(ids(m1), ids(m3)) {
					t.Errorf("two events share dedupe keys %v", ids(m1))
				}
			})
			t.Run("missing signature headers are rejected", func(t *testing.T) {
				for _, h := range []string{"Paypal-Transmission-Id", "Paypal-Transmission-Time", "Paypal-Transmission-Sig", "Paypal-Auth-Algo"} {
					bad := d
					bad.Header = d.Header.Clone()
					bad.Header.Del(h)
					reject(t, src, bad, "without "+h)
				}
				reject(t, src, domain.Delivery{Header: http.Header{}, Body: d.Body, ReceivedAt: now}, "no headers")
			})
			t.Run("no webhook id is rejected", func(t *testing.T) { reject(t, with("webhook_id", ""), d, "no webhook_id") })
			t.Run("tampered body is rejected", func(t *testing.T) {
				for _, i := range []int{0, len(d.Body) / 2, len(d.Body) - 1} {
					bad := d
					bad.Body = bytes.Clone(d.Body)
					bad.Body[i] ^= 0x01
					reject(t, src, bad, "tampered body")
				}
			})
			t.Run("wrong webhook id is rejected", func(t *testing.T) { reject(t, with("webhook_id", "OTHERWEBHOOKID"), d, "other webhook id") })
			t.Run("certificate that did not sign is rejected", func(t *testing.T) { reject(t, with("cert_file", other), d, "other cert") })
			t.Run("rotated certificate list is accepted", func(t *testing.T) {
				if err := p.Verify(context.Background(), with("cert_file", other+","+src.Settings["cert_file"]), d); err != nil {
					t.Errorf("Verify with [new, old] certificates = %v", err)
				}
			})
			t.Run("stale timestamp is rejected", func(t *testing.T) {
				old := o
				old.Now = now.Add(-10 * time.Minute)
				r, _ := p.Sample(src, typ, old)
				reject(t, src, webhooktest.Delivery(r, now), "10 minutes old")
			})
		})
	}
	t.Run("unknown event type is not handled", func(t *testing.T) {
		if p.Handles("tradewind.no_such_event") {
			t.Error("Handles(unknown) = true")
		}
	})
}

func TestCheckSource(t *testing.T) {
	pin := filepath.Join(testdata, katPEM)
	tests := []struct {
		name     string
		secrets  []string
		settings map[string]string
		wantKey  string
	}{
		{"webhook id only", nil, map[string]string{"webhook_id": "W"}, ""},
		{"pinned", nil, map[string]string{"webhook_id": "W", "cert_file": pin}, ""},
		{"pinned list", nil, map[string]string{"webhook_id": "W", "cert_file": pin + ", " + pin}, ""},
		{"no webhook id", nil, map[string]string{}, "webhook_id"},
		{"secrets given", []string{"abc"}, map[string]string{"webhook_id": "W"}, "secrets"},
		{"missing cert file", nil, map[string]string{"webhook_id": "W", "cert_file": "/nonexistent/x.pem"}, "cert_file"},
		{"not a PEM", nil, map[string]string{"webhook_id": "W", "cert_file": filepath.Join(testdata, kat+".body.json")}, "cert_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := paypal.Provider{}.CheckSource(domain.Source{ID: "p", Secrets: tt.secrets, Settings: tt.settings})
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

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, paypal.Provider{}, webhooktest.Options{Source: simSource(f)})
}

func TestGolden(t *testing.T) {
	src := domain.Source{ID: "acme-paypal", Provider: paypal.Kind, Settings: map[string]string{"webhook_id": "W"}}
	for _, name := range []string{kat, "checkout_order_completed", "capture_completed", "capture_refunded", "dispute_resolved"} {
		t.Run(name, func(t *testing.T) {
			got := webhooktest.NormalizeAll(t, paypal.Provider{}, src, domain.Delivery{Body: read(t, name+".body.json")})
			webhooktest.Golden(t, filepath.Join(testdata, name+".golden.json"), got)
		})
	}
	// PayPal's published samples (webhook event names reference): a dispute resolved at the
	// claim stage (CANCELED_BY_BUYER: won) and a capture PayPal reversed (lost). The same
	// dispute while under review (CUSTOMER.DISPUTE.UPDATED) and resolved for the buyer are
	// derived from the sample.
	resolved := string(read(t, "paypal_docs_CUSTOMER.DISPUTE.RESOLVED.body.json"))
	updated := strings.NewReplacer(`"event_type": "CUSTOMER.DISPUTE.RESOLVED"`, `"event_type": "CUSTOMER.DISPUTE.UPDATED"`,
		`"status": "RESOLVED"`, `"status": "UNDER_REVIEW"`, `"outcome_code": "CANCELED_BY_BUYER"`, `"outcome_code": "NONE"`).Replace(resolved)
	buyer := strings.Replace(resolved, `"outcome_code": "CANCELED_BY_BUYER"`, `"outcome_code": "RESOLVED_BUYER_FAVOUR"`, 1)
	docs := []struct{ name, body string }{
		{"paypal_docs_CUSTOMER.DISPUTE.RESOLVED", resolved},
		{"paypal_docs_CUSTOMER.DISPUTE.UPDATED", updated},
		{"paypal_docs_CUSTOMER.DISPUTE.RESOLVED_buyer", buyer},
		{"paypal_docs_PAYMENT.CAPTURE.REVERSED", string(read(t, "paypal_docs_PAYMENT.CAPTURE.REVERSED.body.json"))},
	}
	for _, tt := range docs {
		t.Run(tt.name, func(t *testing.T) {
			got := webhooktest.NormalizeAll(t, paypal.Provider{}, src, domain.Delivery{Body: []byte(tt.body)})
			webhooktest.Golden(t, filepath.Join(testdata, tt.name+".golden.json"), got)
		})
	}
}

// TestOnePaymentPerCapture: every fact about one capture names the same payment, the
// capture id: the capture (keyed by it, not by its checkout order's id), the checkout
// order that completed it, its refund, the reversal of PayPal's published sample (which
// names nothing but the capture) and a dispute on it; the reversal and the dispute are
// one dispute fact, so the money a lost dispute and its reversal took counts once.
func TestOnePaymentPerCapture(t *testing.T) {
	src := domain.Source{ID: "acme-paypal", Provider: paypal.Kind, Settings: map[string]string{"webhook_id": "W"}}
	const capture = "3C679366HH908993F" // the capture of checkout_order_completed and capture_completed
	reversed := strings.ReplaceAll(string(read(t, "paypal_docs_PAYMENT.CAPTURE.REVERSED.body.json")), "4L335234718889942", capture)
	refunded := strings.ReplaceAll(string(read(t, "capture_refunded.body.json")), "0KG25768LM934271P", capture)
	type fact struct{ PaymentRef, DisputeRef string }
	var got []fact
	for _, body := range []string{string(read(t, "capture_completed.body.json")), string(read(t, "checkout_order_completed.body.json")),
		refunded, reversed, string(read(t, "dispute_resolved.body.json"))} {
		for _, ev := range webhooktest.NormalizeAll(t, paypal.Provider{}, src, domain.Delivery{Body: []byte(body)}) {
			f := fact{PaymentRef: ev.PaymentRef}
			if ev.Dispute != nil {
				f.DisputeRef = ev.Dispute.Ref
			}
			got = append(got, f)
		}
	}
	want := []fact{{capture, ""}, {capture, ""}, {capture, ""}, {capture, "transaction:" + capture}, {capture, "transaction:" + capture}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("payment and dispute refs (-want +got):\n%s", diff)
	}
}

// TestCheckoutOrderCompleted: each completed capture is a payment of its own (several are
// told apart by event id, as each is applied once); nothing captured yet is authorized,
// keyed by the checkout order id, so no money is counted before a capture says so.
func TestCheckoutOrderCompleted(t *testing.T) {
	src := domain.Source{ID: "acme-paypal", Provider: paypal.Kind, Settings: map[string]string{"webhook_id": "W"}}
	body := string(read(t, "checkout_order_completed.body.json"))
	first := `{"id":"3C679366HH908993F","status":"COMPLETED","amount":{"currency_code":"JPY","value":"1200"},"final_capture":true}`
	if !strings.Contains(body, first) {
		t.Fatal("checkout_order_completed.body.json changed: update this test")
	}
	type fact struct {
		Type       domain.EventType
		EventID    string
		OrderRef   string
		PaymentRef string
		Amount     int64
	}
	const id = "WH-55TG7562XN2588878-8YH955435R661687G"
	tests := []struct {
		name string
		body string
		want []fact
	}{
		{"one capture", body, []fact{{domain.PaymentSucceeded, id, "1001", "3C679366HH908993F", 1200}}},
		{"two captures", strings.Replace(body, first, first+`,{"id":"7A1","status":"COMPLETED","amount":{"currency_code":"JPY","value":"300"}},{"id":"7A2","status":"DECLINED","amount":{"currency_code":"JPY","value":"50"}}`, 1),
			[]fact{{domain.PaymentSucceeded, id + ":capture:3C679366HH908993F", "1001", "3C679366HH908993F", 1200},
				{domain.PaymentSucceeded, id + ":capture:7A1", "1001", "7A1", 300}}},
		{"capture pending", strings.Replace(body, `"status":"COMPLETED","amount":{"currency_code":"JPY"`, `"status":"PENDING","amount":{"currency_code":"JPY"`, 1),
			[]fact{{domain.PaymentAuthorized, id, "1001", "5O190127TN364715T", 1200}}},
		{"no captures (intent AUTHORIZE)", strings.Replace(body, `"captures":[`+first+`]`, `"captures":[]`, 1),
			[]fact{{domain.PaymentAuthorized, id, "1001", "5O190127TN364715T", 1200}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []fact
			for _, ev := range webhooktest.NormalizeAll(t, paypal.Provider{}, src, domain.Delivery{Body: []byte(tt.body)}) {
				got = append(got, fact{ev.Type, ev.EventID, ev.OrderRef, ev.PaymentRef, ev.Payment.Amount})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDisputeOutcomes: every outcome_code of PayPal's dispute_outcome is won or lost, and
// every dispute_life_cycle_stage orders the open facts below the resolution.
func TestDisputeOutcomes(t *testing.T) {
	src := domain.Source{ID: "acme-paypal", Provider: paypal.Kind, Settings: map[string]string{"webhook_id": "W"}}
	resolved := string(read(t, "paypal_docs_CUSTOMER.DISPUTE.RESOLVED.body.json"))
	tests := []struct {
		name, from, to string
		stage          int
		outcome        string
	}{
		{"RESOLVED_BUYER_FAVOUR", "CANCELED_BY_BUYER", "RESOLVED_BUYER_FAVOUR", 6, domain.DisputeLost},
		{"ACCEPTED", "CANCELED_BY_BUYER", "ACCEPTED", 6, domain.DisputeLost},
		{"RESOLVED_SELLER_FAVOUR", "CANCELED_BY_BUYER", "RESOLVED_SELLER_FAVOUR", 6, domain.DisputeWon},
		{"RESOLVED_WITH_PAYOUT", "CANCELED_BY_BUYER", "RESOLVED_WITH_PAYOUT", 6, domain.DisputeWon},
		{"DENIED", "CANCELED_BY_BUYER", "DENIED", 6, domain.DisputeWon},
		{"NONE", "CANCELED_BY_BUYER", "NONE", 6, domain.DisputeWon},
	}
	for _, st := range []struct {
		stage string
		n     int
	}{{"INQUIRY", 1}, {"CHARGEBACK", 2}, {"PRE_ARBITRATION", 3}, {"ARBITRATION", 4}} {
		tests = append(tests, struct {
			name, from, to string
			stage          int
			outcome        string
		}{"open at " + st.stage, `"dispute_life_cycle_stage": "CHARGEBACK"`, `"dispute_life_cycle_stage": "` + st.stage + `"`, st.n, domain.DisputeOpen})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(resolved, tt.from, tt.to, 1)
			if tt.outcome == domain.DisputeOpen {
				body = strings.NewReplacer(`"event_type": "CUSTOMER.DISPUTE.RESOLVED"`, `"event_type": "CUSTOMER.DISPUTE.UPDATED"`,
					`"status": "RESOLVED"`, `"status": "WAITING_FOR_SELLER_RESPONSE"`).Replace(body)
			}
			got := webhooktest.NormalizeAll(t, paypal.Provider{}, src, domain.Delivery{Body: []byte(body)})
			if len(got) != 1 || got[0].Dispute == nil {
				t.Fatalf("events = %+v, want one dispute", got)
			}
			if d := got[0].Dispute; d.Stage != tt.stage || d.Outcome != tt.outcome {
				t.Errorf("stage %d outcome %s, want stage %d outcome %s", d.Stage, d.Outcome, tt.stage, tt.outcome)
			}
		})
	}
}

func TestNormalizeRejectsInexactAmount(t *testing.T) {
	body := bytes.Replace(read(t, kat+".body.json"), []byte(`"total":"20.00"`), []byte(`"total":"20.001"`), 1)
	msgs, err := paypal.Provider{}.Parse(domain.Source{}, domain.Delivery{Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (paypal.Provider{}).Normalize(domain.Source{}, msgs[0]); domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("Normalize = %v, want %s", err, domain.EINVALID)
	}
}

// TestCertificateDownloadEndsWithTheRequest: Verify's context bounds the certificate
// download, so a provider that hangs up (or a server shutting down) does not keep a
// download going for the whole FetchTimeout; FetchTimeout still bounds it when the
// request's context has no deadline.
func TestCertificateDownloadEndsWithTheRequest(t *testing.T) {
	k := loadKAT(t)
	s := domain.Source{ID: "kat", Settings: map[string]string{"webhook_id": k.webhookID}}
	// waitForEnd answers only once the request's context ends, saying whether it had a deadline.
	waitForEnd := func(deadlines chan<- bool) func(*http.Request) (*http.Response, error) {
		return func(req *http.Request) (*http.Response, error) {
			_, has := req.Context().Deadline()
			deadlines <- has
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
	}
	tests := []struct {
		name         string
		fetchTimeout time.Duration
		ctx          func() (context.Context, context.CancelFunc)
	}{
		{"request ends first", time.Hour, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"fetch timeout ends first", time.Millisecond, func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deadlines := make(chan bool, 1)
			p := paypal.New(paypal.Options{Client: &http.Client{Transport: &roundTrip{serve: waitForEnd(deadlines)}},
				InsecureSkipCertChecks: true, FetchTimeout: tt.fetchTimeout})
			ctx, cancel := tt.ctx()
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- p.Verify(ctx, s, k.d) }()
			if !<-deadlines {
				t.Error("the certificate download has no deadline")
			}
			cancel() // the request is over (a no-op in the FetchTimeout case)
			if err := <-errc; domain.ErrorCode(err) != domain.EUNAVAILABLE {
				t.Errorf("Verify = %v, want %s (PayPal retries)", err, domain.EUNAVAILABLE)
			}
		})
	}
}
