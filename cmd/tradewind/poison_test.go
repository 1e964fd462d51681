package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/hmac"
	"github.com/tradewind/tradewind/adapters/powertranz"
	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/woocommerce"
	"github.com/tradewind/tradewind/domain"
)

const (
	powertranzSource = "acme-powertranz"
	wooSource        = "acme-woo"
	hmacSource       = "acme-hmac"
	hmacSecret       = "hmac_test_secret_0123"
)

// serveWith runs a Main serving the test sources plus extra ones (migrating first).
func (e *env) serveWith(extra map[string]domain.Source) *Main {
	e.t.Helper()
	cfg, roles := e.config(), Roles{Serve: true, Migrate: true}
	sources := testSources()
	for id, s := range extra {
		sources[id] = s
	}
	m := NewMain(cfg, sources, testLogger())
	if err := m.Run(context.Background(), roles); err != nil {
		m.Close(context.Background())
		e.t.Fatalf("Run: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return m
}

// powertranzCallback is an unsigned PowerTranz callback whose transaction id is txn.
func powertranzCallback(txn string) webhook.Request {
	js, _ := json.Marshal(powertranz.Callback{TransactionType: 2, TransactionIdentifier: txn, SpiToken: "spi-" + fmt.Sprint(rand.Int64()),
		TotalAmount: "10.00", CurrencyCode: "840", IsoResponseCode: "00", OrderIdentifier: "9100"})
	return webhook.Request{Header: http.Header{"Content-Type": {"application/json"}}, Body: js}
}

// hmacEvent is a correctly signed event of the hmac source with the given id.
func hmacEvent(t *testing.T, src domain.Source, id string) webhook.Request {
	t.Helper()
	req, err := hmac.Provider{}.Sample(src, "OrderPlaced", webhook.SampleOptions{EventID: id, OrderRef: "9200"})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func randomLetters(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

// rawPost sends a request with raw header lines (Go's client refuses a NUL in a
// header) and returns the status code.
func rawPost(t *testing.T, addr, path string, headers []string, body string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n%s", path, addr, len(body), strings.Join(headers, ""), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Errorf("raw POST %s: %v", path, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestUnstorableRequestsAre400AndNeverFailOthers: requests whose message
// PostgreSQL cannot store (a NUL byte in an unsigned PowerTranz callback's id or
// in a WooCommerce ping's header, a 3 KB or NUL event id in a signed hmac event)
// arrive concurrently with signed Stripe and Shopify webhooks. Every poison
// request is answered 400 unstorable and recorded; every legitimate one is
// answered 200 and stored; nobody gets a 503.
func TestUnstorableRequestsAre400AndNeverFailOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	off := map[string]string{"unsigned_ip_rate_limit": "off", "unsigned_rate_limit": "off"}
	hmacSrc := domain.Source{ID: hmacSource, Provider: hmac.Kind, Secrets: []string{hmacSecret}, Settings: map[string]string{"header": "X-Signature"}}
	m := e.serveWith(map[string]domain.Source{
		powertranzSource: {ID: powertranzSource, Provider: powertranz.Kind, Settings: off},
		wooSource:        {ID: wooSource, Provider: woocommerce.Kind, Secrets: []string{"woo_secret"}, Settings: off},
		hmacSource:       hmacSrc,
	})

	type call struct {
		name    string
		poison  bool
		eventID string // legitimate ones: the id stored
		send    func() int
	}
	var calls []call
	for i := range 60 {
		id := fmt.Sprintf("evt_legit_%d", i)
		req := stripeEvent(t, "payment_intent.succeeded", id, fmt.Sprint(9300+i), 100, newSecret, time.Now())
		calls = append(calls, call{"stripe " + id, false, id, func() int { return post(t, webhookURL(m, testSource), req).status }})
	}
	for i := range 30 {
		req, err := shopify.Provider{}.Sample(domain.Source{ID: shopifySource, Secrets: []string{shopifySecret}}, shopify.TopicOrdersCreate,
			webhook.SampleOptions{EventID: fmt.Sprintf("shop-legit-%d", i), OrderRef: fmt.Sprint(9400 + i)})
		if err != nil {
			t.Fatal(err)
		}
		id := req.Header.Get("X-Shopify-Webhook-Id")
		calls = append(calls, call{"shopify " + id, false, id, func() int { return post(t, webhookURL(m, shopifySource), req).status }})
	}
	for i := range 10 {
		nul := powertranzCallback(fmt.Sprintf("txn-\x00-%d", i))
		calls = append(calls, call{"powertranz NUL id", true, "", func() int { return post(t, webhookURL(m, powertranzSource), nul).status }})
		long := hmacEvent(t, hmacSrc, "evt_"+randomLetters(3000))
		calls = append(calls, call{"hmac 3 KB id", true, "", func() int { return post(t, webhookURL(m, hmacSource), long).status }})
		nulID := hmacEvent(t, hmacSrc, fmt.Sprintf("evt_\x00_%d", i))
		calls = append(calls, call{"hmac NUL id", true, "", func() int { return post(t, webhookURL(m, hmacSource), nulID).status }})
		ping := fmt.Sprintf("webhook_id=%d", 700+i)
		calls = append(calls, call{"woocommerce ping with a NUL header", true, "", func() int {
			return rawPost(t, m.Addr(), "/webhooks/"+wooSource, []string{"Content-Type: application/x-www-form-urlencoded\r\n", "X-Note: a\x00b\r\n"}, ping)
		}})
	}
	rand.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })

	statuses := make([]int, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() { statuses[i] = c.send() })
	}
	wg.Wait()

	poison := 0
	for i, c := range calls {
		switch {
		case c.poison && statuses[i] != http.StatusBadRequest:
			t.Errorf("%s: answered %d, want 400", c.name, statuses[i])
		case !c.poison && statuses[i] != http.StatusOK:
			t.Errorf("%s: answered %d, want 200 (a poison request in its batch must not fail it)", c.name, statuses[i])
		case !c.poison && e.count(`SELECT count(*) FROM inbox WHERE event_id = $1`, c.eventID) != 1:
			t.Errorf("%s: answered 200 but not stored", c.name)
		}
		if c.poison {
			poison++
		}
	}
	if n := e.count(`SELECT count(*) FROM inbox`); n != len(calls)-poison {
		t.Errorf("inbox rows = %d, want the %d legitimate webhooks", n, len(calls)-poison)
	}
	if n := e.count(`SELECT count(*) FROM rejections WHERE cause = 'unstorable'`); n != poison {
		t.Errorf("rejections with cause unstorable = %d, want %d", n, poison)
	}

	// The answer names the problem, in the error shape.
	r := post(t, webhookURL(m, hmacSource), hmacEvent(t, hmacSrc, "evt_"+randomLetters(3000)))
	var eb struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &eb); err != nil || eb.Error.Code != domain.CauseUnstorable ||
		!strings.Contains(eb.Error.Message, "event id is 3004 bytes, over the 255-byte limit") {
		t.Errorf("answer to a 3 KB event id: %d %s; want code unstorable naming the event id's length", r.status, r.body)
	}
}

// TestUnsignedCallbacksAreRateLimitedPerAddress: unsigned PowerTranz callbacks
// from one address are limited (429, Retry-After, recorded rate_limited) while a
// signed source without limits goes on being accepted.
func TestUnsignedCallbacksAreRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.serveWith(map[string]domain.Source{
		powertranzSource: {ID: powertranzSource, Provider: powertranz.Kind,
			Settings: map[string]string{"unsigned_ip_rate_limit": "0.001", "unsigned_ip_rate_burst": "3"}},
	})
	var limited []response
	for i := range 8 {
		r := post(t, webhookURL(m, powertranzSource), powertranzCallback(fmt.Sprintf("txn-burst-%d", i)))
		switch {
		case i < 3 && r.status != http.StatusOK:
			t.Fatalf("callback %d, within the burst of 3: %d %s, want 200", i, r.status, r.body)
		case i >= 3:
			limited = append(limited, r)
		}
	}
	for i, r := range limited {
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, `"rate_limited"`) ||
			!strings.Contains(r.body, "unsigned_ip_rate_limit") {
			t.Errorf("callback %d past the burst: %d (Retry-After %q) %s; want 429 rate_limited naming unsigned_ip_rate_limit, with Retry-After",
				3+i, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	if n := e.count(`SELECT count(*) FROM rejections WHERE cause = 'rate_limited' AND source = $1`, powertranzSource); n != len(limited) {
		t.Errorf("rate_limited rejections = %d, want %d", n, len(limited))
	}
	if n := e.count(`SELECT count(*) FROM inbox WHERE source = $1`, powertranzSource); n != 3 {
		t.Errorf("stored callbacks = %d, want the 3 accepted", n)
	}
	for i := range 30 {
		req := stripeEvent(t, "payment_intent.succeeded", fmt.Sprintf("evt_signed_%d", i), fmt.Sprint(9500+i), 100, newSecret, time.Now())
		if r := post(t, webhookURL(m, testSource), req); r.status != http.StatusOK {
			t.Fatalf("signed webhook %d from the same address: %d %s, want 200", i, r.status, r.body)
		}
	}
}
