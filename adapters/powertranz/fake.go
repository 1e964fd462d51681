package powertranz

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Transaction is what the fake gateway answers for one SpiToken.
type Transaction struct {
	TransactionType       int    // 1 Auth, 2 Sale
	TransactionIdentifier string // the merchant's GUID
	OrderIdentifier       string
	Amount                int64  // minor units
	Currency              string // alphabetic, e.g. USD
}

// FakeGateway is an in-memory PowerTranz for tests and `tradewind simulate` (which serves
// it on loopback for the demo source): it serves POST /api/spi/payment (and GET /api/alive)
// for the transactions registered with it, on whatever listener it is mounted.
type FakeGateway struct {
	mu       sync.Mutex
	txs      map[string]fakeTx // by SpiToken
	id, pass string
	down     bool
	calls    int
}

type fakeTx struct {
	tx       Transaction
	approved bool
}

// NewFakeGateway returns an empty fake gateway that accepts any credentials.
func NewFakeGateway() *FakeGateway { return &FakeGateway{txs: map[string]fakeTx{}} }

// Approve registers spiToken as an approved transaction.
func (g *FakeGateway) Approve(spiToken string, tx Transaction) { g.set(spiToken, tx, true) }

// Decline registers spiToken as a declined transaction.
func (g *FakeGateway) Decline(spiToken string, tx Transaction) { g.set(spiToken, tx, false) }

func (g *FakeGateway) set(token string, tx Transaction, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.txs[token] = fakeTx{tx: tx, approved: ok}
}

// ApproveCallback registers what a callback body (as Sample builds it) claims as
// approved, so a simulated callback confirms.
func (g *FakeGateway) ApproveCallback(body []byte) error {
	c, err := ParseCallback(body)
	if err != nil {
		return err
	}
	amount, cur, err := money(c)
	if err != nil {
		return err
	}
	typ := c.TransactionType
	if typ == 0 {
		typ = 2
	}
	g.Approve(c.SpiToken, Transaction{TransactionType: typ, TransactionIdentifier: c.TransactionIdentifier, OrderIdentifier: c.OrderIdentifier, Amount: amount, Currency: cur})
	return nil
}

// RequireCredentials makes the gateway answer 401 unless the PowerTranz headers match.
func (g *FakeGateway) RequireCredentials(id, password string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.id, g.pass = id, password
}

// SetDown makes the gateway answer 503 to everything while down is true.
func (g *FakeGateway) SetDown(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = down
}

// Calls is the number of payment completions the gateway was asked for.
func (g *FakeGateway) Calls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// ServeHTTP implements http.Handler.
func (g *FakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/alive":
		w.WriteHeader(http.StatusOK)
		return
	case r.Method != http.MethodPost || r.URL.Path != PaymentPath:
		http.NotFound(w, r)
		return
	}
	g.calls++
	if g.id != "" && (r.Header.Get(HeaderID) != g.id || r.Header.Get(HeaderPassword) != g.pass) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var token string
	if err := json.NewDecoder(r.Body).Decode(&token); err != nil {
		http.Error(w, "body must be the SpiToken as a JSON string", http.StatusBadRequest)
		return
	}
	ft, ok := g.txs[token]
	resp := Callback{Approved: false, IsoResponseCode: "SP5", ResponseMessage: "Invalid or expired SpiToken"}
	if ok {
		tx := ft.tx
		resp = Callback{
			TransactionType: tx.TransactionType, TransactionIdentifier: tx.TransactionIdentifier, OrderIdentifier: tx.OrderIdentifier,
			TotalAmount: json.Number(domain.FormatMinorUnits(tx.Amount, tx.Currency)), CurrencyCode: NumericCurrency(tx.Currency),
			Approved: ft.approved, IsoResponseCode: "05", ResponseMessage: "Do not honour",
		}
		if ft.approved {
			resp.IsoResponseCode, resp.ResponseMessage, resp.AuthorizationCode, resp.RRN = "00", "Transaction is approved", "123456", "307522590956"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// NewFakeAPI implements webhook.FakeAPISimulator: `tradewind simulate` serves a
// FakeGateway that confirms the callbacks it sends.
func (Provider) NewFakeAPI() webhook.FakeAPI { return simulatedGateway{NewFakeGateway()} }

// simulatedGateway is a FakeGateway as `tradewind simulate` drives it.
type simulatedGateway struct{ *FakeGateway }

func (g simulatedGateway) Prepare(body []byte, _ webhook.SampleOptions) error {
	return g.ApproveCallback(body)
}
func (g simulatedGateway) Served() int { return g.Calls() }
func (g simulatedGateway) RequireSource(src domain.Source) {
	g.RequireCredentials(src.Settings[SettingID], password(src))
}
