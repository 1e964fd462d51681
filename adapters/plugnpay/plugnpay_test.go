package plugnpay_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/plugnpay"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/plugnpay"

var (
	now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	src = domain.Source{ID: "acme-pnp", Provider: plugnpay.Kind, Settings: map[string]string{
		"api_base_url": "http://127.0.0.1:1", "publisher_name": "acmeshop", "publisher_password": "pnp-test-password",
	}}
)

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

func gateway(t *testing.T) (*plugnpay.FakeGateway, domain.Source) {
	t.Helper()
	g := plugnpay.NewFakeGateway()
	g.RequireCredentials("acmeshop", "pnp-test-password")
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	s := src
	s.Settings = map[string]string{"api_base_url": srv.URL, "publisher_name": "acmeshop", "publisher_password": "pnp-test-password"}
	return g, s
}

// confirming is the worker's path, Fetch then Normalize, for webhooktest.Contract: the
// suite normalizes unconfirmed messages of Unsigned adapters directly, which the bare
// Provider rightly refuses (TestNormalizeUnconfirmedIsInvalid).
type confirming struct {
	plugnpay.Provider
	g *plugnpay.FakeGateway
}

func (c confirming) Normalize(s domain.Source, m domain.Message) ([]domain.Event, error) {
	if m.Unconfirmed {
		if err := c.g.ApproveCallback(m.Payload); err != nil {
			return nil, err
		}
		var err error
		if m, err = c.Fetch(context.Background(), s, m); err != nil {
			return nil, err
		}
	}
	return c.Provider.Normalize(s, m)
}

func TestContract(t *testing.T) {
	g, s := gateway(t)
	webhooktest.Contract(t, confirming{g: g}, webhooktest.Options{Source: s, Unsigned: true})
}

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, plugnpay.Provider{}, webhooktest.Options{Source: src, Unsigned: true})
}

func message(t *testing.T, body []byte) domain.Message {
	t.Helper()
	msgs, err := plugnpay.Provider{}.Parse(src, domain.Delivery{Body: body})
	if err != nil || len(msgs) != 1 || !msgs[0].Unconfirmed {
		t.Fatalf("Parse = %+v, %v; want one unconfirmed message", msgs, err)
	}
	return msgs[0]
}

func TestFetch(t *testing.T) {
	p := plugnpay.Provider{Now: func() time.Time { return now }}
	sampled, err := p.Sample(src, plugnpay.EventCallback, webhook.SampleOptions{EventID: "e1", OrderRef: "1001", Amount: 2500, Currency: "USD", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := plugnpay.ParseCallback(sampled.Body)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		setup    func(*plugnpay.FakeGateway, *domain.Source)
		wantCode string
	}{
		{"approved", func(g *plugnpay.FakeGateway, _ *domain.Source) { g.Approve(cb.OrderID, "1001", 2500, "USD") }, ""},
		{"declined", func(g *plugnpay.FakeGateway, _ *domain.Source) { g.Decline(cb.OrderID, "1001", "badcard", 2500, "USD") }, domain.EUNAUTHORIZED},
		{"fraud", func(g *plugnpay.FakeGateway, _ *domain.Source) { g.Decline(cb.OrderID, "1001", "fraud", 2500, "USD") }, domain.EUNAUTHORIZED},
		{"unknown order", func(*plugnpay.FakeGateway, *domain.Source) {}, domain.EUNAUTHORIZED},
		{"amount mismatch", func(g *plugnpay.FakeGateway, _ *domain.Source) { g.Approve(cb.OrderID, "1001", 250, "USD") }, domain.EUNAUTHORIZED},
		{"currency mismatch", func(g *plugnpay.FakeGateway, _ *domain.Source) { g.Approve(cb.OrderID, "1001", 2500, "CAD") }, domain.EUNAUTHORIZED},
		{"order mismatch", func(g *plugnpay.FakeGateway, _ *domain.Source) { g.Approve(cb.OrderID, "1002", 2500, "USD") }, domain.EUNAUTHORIZED},
		{"gateway down", func(g *plugnpay.FakeGateway, _ *domain.Source) {
			g.Approve(cb.OrderID, "1001", 2500, "USD")
			g.SetDown(true)
		}, domain.EUNAVAILABLE},
		{"gateway unreachable", func(_ *plugnpay.FakeGateway, s *domain.Source) {
			s.Settings = map[string]string{"api_base_url": "http://127.0.0.1:1", "publisher_name": "acmeshop", "publisher_password": "x"}
		}, domain.EUNAVAILABLE},
		{"wrong credentials is a problem, retried", func(g *plugnpay.FakeGateway, s *domain.Source) {
			g.Approve(cb.OrderID, "1001", 2500, "USD")
			s.Settings = map[string]string{"api_base_url": s.Settings["api_base_url"], "publisher_name": "acmeshop", "publisher_password": "wrong"}
		}, domain.EUNAVAILABLE},
		{"password from secrets", func(g *plugnpay.FakeGateway, s *domain.Source) {
			g.Approve(cb.OrderID, "1001", 2500, "USD")
			s.Settings = map[string]string{"api_base_url": s.Settings["api_base_url"], "publisher_name": "acmeshop"}
			s.Secrets = []string{"pnp-test-password"}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, s := gateway(t)
			tt.setup(g, &s)
			m := message(t, sampled.Body)
			got, err := p.Fetch(context.Background(), s, m)
			if code := domain.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("Fetch = %v, want code %q", err, tt.wantCode)
			}
			if err != nil {
				if _, nerr := p.Normalize(s, m); domain.ErrorCode(nerr) != domain.EINVALID {
					t.Errorf("Normalize(unconfirmed) = %v, want %s", nerr, domain.EINVALID)
				}
				return
			}
			if got.Unconfirmed || got.ID != m.ID {
				t.Errorf("Fetch returned %+v; want the same message, confirmed", got)
			}
			evs, err := p.Normalize(s, got)
			if err != nil || len(evs) != 1 {
				t.Fatalf("Normalize = %v, %v", evs, err)
			}
			if e := evs[0]; e.Type != domain.PaymentSucceeded || e.OrderRef != "1001" || e.PaymentRef != cb.OrderID || e.Payment.Amount != 2500 || e.Payment.Currency != "USD" {
				t.Errorf("event = %+v %+v", e, e.Payment)
			}
		})
	}
}

func TestNormalizeUnconfirmedIsInvalid(t *testing.T) {
	m := message(t, read(t, "smartscreens_success_callback.form"))
	for _, mm := range []domain.Message{m, {ID: m.ID, Type: m.Type, Payload: m.Payload}} {
		if _, err := (plugnpay.Provider{}).Normalize(src, mm); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("Normalize = %v, want %s", err, domain.EINVALID)
		}
	}
}

func TestCheckSource(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		secrets  []string
		want     string
	}{
		{"valid", src.Settings, nil, ""},
		{"no api_base_url", map[string]string{"publisher_name": "a", "publisher_password": "p"}, nil, domain.EINVALID},
		{"bad api_base_url", map[string]string{"api_base_url": "pay1.plugnpay.com", "publisher_name": "a", "publisher_password": "p"}, nil, domain.EINVALID},
		{"no publisher name", map[string]string{"api_base_url": "https://pay1.plugnpay.com", "publisher_password": "p"}, nil, domain.EINVALID},
		{"no password", map[string]string{"api_base_url": "https://pay1.plugnpay.com", "publisher_name": "a"}, nil, domain.EINVALID},
		{"password in secrets", map[string]string{"api_base_url": "https://pay1.plugnpay.com", "publisher_name": "a"}, []string{"p"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := plugnpay.Provider{}.CheckSource(domain.Source{ID: "p", Settings: tt.settings, Secrets: tt.secrets})
			if got := domain.ErrorCode(err); got != tt.want {
				t.Errorf("CheckSource = %v, want code %q", err, tt.want)
			}
		})
	}
}

func TestGolden(t *testing.T) {
	g, s := gateway(t)
	body := read(t, "smartscreens_success_callback.form")
	if err := g.ApproveCallback(body); err != nil {
		t.Fatal(err)
	}
	p := plugnpay.Provider{Now: func() time.Time { return now }}
	m, err := p.Fetch(context.Background(), s, message(t, body))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := p.Normalize(s, m)
	if err != nil {
		t.Fatal(err)
	}
	webhooktest.Golden(t, filepath.Join(testdata, "smartscreens_success_callback.golden.json"), evs)
}
