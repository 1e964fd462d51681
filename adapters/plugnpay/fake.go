package plugnpay

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// FakeGateway is an in-memory PlugnPay remote API for tests and `tradewind simulate` (which
// serves it on loopback for the demo source): it answers POST /payment/pnpremote.cgi
// mode=query_trans for the orders registered with it, on whatever listener it is mounted.
type FakeGateway struct {
	mu         sync.Mutex
	txs        map[string]Transaction // by orderID
	name, pass string
	down       bool
	calls      int
}

// NewFakeGateway returns an empty fake gateway that accepts any credentials.
func NewFakeGateway() *FakeGateway { return &FakeGateway{txs: map[string]Transaction{}} }

// Approve registers order orderID (PlugnPay's pt_order_id) as successful, for the cart
// order acctCode, amount minor units of currency.
func (g *FakeGateway) Approve(orderID, acctCode string, amount int64, currency string) {
	g.set(Transaction{OrderID: orderID, FinalStatus: "success", Amount: domain.FormatMinorUnits(amount, currency), Currency: strings.ToUpper(currency), AcctCode: acctCode})
}

// Decline registers order orderID with a final status such as "badcard" or "fraud".
func (g *FakeGateway) Decline(orderID, acctCode, finalStatus string, amount int64, currency string) {
	g.set(Transaction{OrderID: orderID, FinalStatus: finalStatus, Amount: domain.FormatMinorUnits(amount, currency), Currency: strings.ToUpper(currency), AcctCode: acctCode})
}

func (g *FakeGateway) set(tx Transaction) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.txs[tx.OrderID] = tx
}

// ApproveCallback registers what a callback body (as Sample builds it) claims as
// successful, so a simulated callback confirms.
func (g *FakeGateway) ApproveCallback(body []byte) error {
	c, err := ParseCallback(body)
	if err != nil {
		return err
	}
	cur := c.Currency
	if cur == "" {
		cur = defaultCurrency
	}
	amount, err := domain.ParseMinorUnits(c.Amount, cur)
	if err != nil {
		return err
	}
	g.Approve(c.OrderID, c.OrderClassifier, amount, cur)
	return nil
}

// RequireCredentials makes the gateway answer FinalStatus=problem unless
// publisher-name and publisher-password match.
func (g *FakeGateway) RequireCredentials(name, password string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.name, g.pass = name, password
}

// SetDown makes the gateway answer 503 to everything while down is true.
func (g *FakeGateway) SetDown(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = down
}

// Calls is the number of queries the gateway answered.
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
	if r.Method != http.MethodPost || r.URL.Path != RemotePath {
		http.NotFound(w, r)
		return
	}
	g.calls++
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	ans := url.Values{}
	switch {
	case g.name != "" && (r.PostForm.Get("publisher-name") != g.name || r.PostForm.Get("publisher-password") != g.pass):
		ans.Set("FinalStatus", "problem")
		ans.Set("MErrMsg", "Invalid remote client credentials")
	case r.PostForm.Get("mode") != "query_trans":
		ans.Set("FinalStatus", "problem")
		ans.Set("MErrMsg", "Unsupported mode")
	default:
		tx, ok := g.txs[r.PostForm.Get("orderID")]
		if !ok {
			ans.Set("FinalStatus", "badcard")
			ans.Set("MErrMsg", "No such transaction")
			break
		}
		ans.Set("FinalStatus", tx.FinalStatus)
		ans.Set("orderID", tx.OrderID)
		ans.Set("card-amount", tx.Amount)
		ans.Set("currency", strings.ToLower(tx.Currency))
		ans.Set("acct_code", tx.AcctCode)
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, ans.Encode())
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
	g.RequireCredentials(src.Settings[SettingPublisherName], password(src))
}
