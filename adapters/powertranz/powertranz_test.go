package powertranz_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/powertranz"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/powertranz"

var (
	now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	src = domain.Source{ID: "acme-fac", Provider: powertranz.Kind, Settings: map[string]string{
		"api_base_url": "http://127.0.0.1:1", "powertranz_id": "88801234", "powertranz_password": "pt-test-password",
	}}
)

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

// confirming is the worker's path, Fetch then Normalize, for webhooktest.Contract: the
// suite normalizes unconfirmed messages of Unsigned adapters directly, which the bare
// Provider rightly refuses (TestNormalizeUnconfirmedIsInvalid). Each callback the suite
// samples is registered as approved with a fake gateway first.
type confirming struct {
	powertranz.Provider
	g *powertranz.FakeGateway
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
	webhooktest.Fuzz(f, powertranz.Provider{}, webhooktest.Options{Source: src, Unsigned: true})
}

// gateway starts a fake PowerTranz on loopback and a source pointing at it.
func gateway(t *testing.T) (*powertranz.FakeGateway, domain.Source) {
	t.Helper()
	g := powertranz.NewFakeGateway()
	g.RequireCredentials("88801234", "pt-test-password")
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	s := src
	s.Settings = map[string]string{"api_base_url": srv.URL, "powertranz_id": "88801234", "powertranz_password": "pt-test-password"}
	return g, s
}

func message(t *testing.T, body []byte) domain.Message {
	t.Helper()
	msgs, err := powertranz.Provider{}.Parse(src, domain.Delivery{Body: body})
	if err != nil || len(msgs) != 1 || !msgs[0].Unconfirmed {
		t.Fatalf("Parse = %+v, %v; want one unconfirmed message", msgs, err)
	}
	return msgs[0]
}

func TestFetch(t *testing.T) {
	p := powertranz.Provider{Now: func() time.Time { return now }}
	sampled, err := p.Sample(src, powertranz.EventCallback, webhook.SampleOptions{EventID: "e1", OrderRef: "1001", Amount: 2500, Currency: "USD", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := powertranz.ParseCallback(sampled.Body)
	if err != nil {
		t.Fatal(err)
	}
	tx := powertranz.Transaction{TransactionType: 2, TransactionIdentifier: cb.TransactionIdentifier, OrderIdentifier: "1001", Amount: 2500, Currency: "USD"}
	tests := []struct {
		name     string
		setup    func(*powertranz.FakeGateway, *domain.Source)
		wantCode string
		wantType domain.EventType
	}{
		{"approved sale", func(g *powertranz.FakeGateway, _ *domain.Source) { g.Approve(cb.SpiToken, tx) }, "", domain.PaymentSucceeded},
		{"approved auth", func(g *powertranz.FakeGateway, _ *domain.Source) {
			a := tx
			a.TransactionType = 1
			g.Approve(cb.SpiToken, a)
		}, "", domain.PaymentAuthorized},
		{"declined", func(g *powertranz.FakeGateway, _ *domain.Source) { g.Decline(cb.SpiToken, tx) }, domain.EUNAUTHORIZED, ""},
		{"unknown token", func(*powertranz.FakeGateway, *domain.Source) {}, domain.EUNAUTHORIZED, ""},
		{"amount mismatch", func(g *powertranz.FakeGateway, _ *domain.Source) {
			a := tx
			a.Amount = 250
			g.Approve(cb.SpiToken, a)
		}, domain.EUNAUTHORIZED, ""},
		{"currency mismatch", func(g *powertranz.FakeGateway, _ *domain.Source) {
			a := tx
			a.Currency = "JMD"
			g.Approve(cb.SpiToken, a)
		}, domain.EUNAUTHORIZED, ""},
		{"order mismatch", func(g *powertranz.FakeGateway, _ *domain.Source) {
			a := tx
			a.OrderIdentifier = "1002"
			g.Approve(cb.SpiToken, a)
		}, domain.EUNAUTHORIZED, ""},
		{"transaction mismatch", func(g *powertranz.FakeGateway, _ *domain.Source) {
			a := tx
			a.TransactionIdentifier = "00000000-0000-0000-0000-000000000000"
			g.Approve(cb.SpiToken, a)
		}, domain.EUNAUTHORIZED, ""},
		{"gateway down", func(g *powertranz.FakeGateway, _ *domain.Source) { g.Approve(cb.SpiToken, tx); g.SetDown(true) }, domain.EUNAVAILABLE, ""},
		{"gateway unreachable", func(_ *powertranz.FakeGateway, s *domain.Source) {
			s.Settings = map[string]string{"api_base_url": "http://127.0.0.1:1", "powertranz_id": "88801234", "powertranz_password": "x"}
		}, domain.EUNAVAILABLE, ""},
		{"wrong credentials", func(g *powertranz.FakeGateway, s *domain.Source) {
			g.Approve(cb.SpiToken, tx)
			s.Settings = map[string]string{"api_base_url": s.Settings["api_base_url"], "powertranz_id": "88801234", "powertranz_password": "wrong"}
		}, domain.EUNAVAILABLE, ""},
		{"password from secrets", func(g *powertranz.FakeGateway, s *domain.Source) {
			g.Approve(cb.SpiToken, tx)
			s.Settings = map[string]string{"api_base_url": s.Settings["api_base_url"], "powertranz_id": "88801234"}
			s.Secrets = []string{"pt-test-password"}
		}, "", domain.PaymentSucceeded},
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
			if got.Unconfirmed || got.ID != m.ID || got.Type != m.Type {
				t.Errorf("Fetch returned %+v; want the same message, confirmed", got)
			}
			evs, err := p.Normalize(s, got)
			if err != nil || len(evs) != 1 {
				t.Fatalf("Normalize = %v, %v", evs, err)
			}
			e := evs[0]
			if e.Type != tt.wantType || e.OrderRef != "1001" || e.PaymentRef != cb.TransactionIdentifier || e.Payment.Amount != 2500 || e.Payment.Currency != "USD" || e.EventID != m.ID {
				t.Errorf("event = %+v %+v", e, e.Payment)
			}
			again, err := p.Fetch(context.Background(), s, got)
			if err != nil || string(again.Payload) != string(got.Payload) {
				t.Errorf("Fetch(confirmed) = %v; want it unchanged", err)
			}
		})
	}
}

func TestNormalizeUnconfirmedIsInvalid(t *testing.T) {
	m := message(t, read(t, "spi_hp0_callback.json"))
	for _, mm := range []domain.Message{m, {ID: m.ID, Type: m.Type, Payload: m.Payload}} { // flag cleared without Fetch
		if _, err := (powertranz.Provider{}).Normalize(src, mm); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("Normalize = %v, want %s", err, domain.EINVALID)
		}
	}
}

func TestParseFormAndJSON(t *testing.T) {
	js := read(t, "spi_hp0_callback.json")
	form := []byte(url.Values{"Response": {string(js)}}.Encode())
	a, b := message(t, js), message(t, form)
	if a.ID != b.ID {
		t.Errorf("JSON and form bodies of one callback have ids %q and %q", a.ID, b.ID)
	}
	if _, err := (powertranz.Provider{}).Parse(src, domain.Delivery{Body: []byte(`{"TransactionIdentifier":"x"}`)}); domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("Parse without SpiToken = %v, want %s", err, domain.EINVALID)
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
		{"no api_base_url", map[string]string{"powertranz_id": "1", "powertranz_password": "p"}, nil, domain.EINVALID},
		{"relative api_base_url", map[string]string{"api_base_url": "ptranz.com", "powertranz_id": "1", "powertranz_password": "p"}, nil, domain.EINVALID},
		{"no id", map[string]string{"api_base_url": "https://staging.ptranz.com", "powertranz_password": "p"}, nil, domain.EINVALID},
		{"no password", map[string]string{"api_base_url": "https://staging.ptranz.com", "powertranz_id": "1"}, nil, domain.EINVALID},
		{"password in secrets", map[string]string{"api_base_url": "https://staging.ptranz.com", "powertranz_id": "1"}, []string{"p"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := powertranz.Provider{}.CheckSource(domain.Source{ID: "p", Settings: tt.settings, Secrets: tt.secrets})
			if got := domain.ErrorCode(err); got != tt.want {
				t.Errorf("CheckSource = %v, want code %q", err, tt.want)
			}
		})
	}
}

func TestGolden(t *testing.T) {
	g, s := gateway(t)
	body := read(t, "spi_hp0_callback.json")
	if err := g.ApproveCallback(body); err != nil {
		t.Fatal(err)
	}
	p := powertranz.Provider{Now: func() time.Time { return now }}
	m, err := p.Fetch(context.Background(), s, message(t, body))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := p.Normalize(s, m)
	if err != nil {
		t.Fatal(err)
	}
	webhooktest.Golden(t, filepath.Join(testdata, "spi_hp0_callback.golden.json"), evs)
}

func TestFakeGatewayAlive(t *testing.T) {
	srv := httptest.NewServer(powertranz.NewFakeGateway())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/alive")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/alive = %v, %v", resp, err)
	}
	resp.Body.Close()
}
