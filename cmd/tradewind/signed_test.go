package main

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// waitInbox waits until the inbox row of source's event id has status.
func (e *env) waitInbox(source, eventID, status string) {
	e.t.Helper()
	testenv.Eventually(e.t, 15*time.Second, func() (bool, string) {
		n := e.count(`SELECT count(*) FROM inbox WHERE source = $1 AND event_id = $2 AND status = $3`, source, eventID, status)
		return n == 1, fmt.Sprintf("inbox row %s/%s %s", source, eventID, status)
	})
}

// TestShopifyTopicHeaderCannotChangeFacts: Shopify signs the body only. A genuine
// orders/create body resent with X-Shopify-Topic orders/paid or orders/cancelled and a
// new X-Shopify-Webhook-Id is stored (the signature holds) but changes nothing; the
// genuine orders/paid still makes the order paid.
func TestShopifyTopicHeaderCannotChangeFacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	src := testSources()[shopifySource]
	url := webhookURL(m, shopifySource)
	sample := func(topic, webhookID string) webhook.Request {
		r, err := shopify.Provider{}.Sample(src, topic, webhook.SampleOptions{EventID: webhookID, OrderRef: "4001", SKU: "TEE-M", Quantity: 2, Amount: 1250, Currency: "USD", Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	created := sample(shopify.TopicOrdersCreate, "w-create")
	if r := post(t, url, created); r.status != http.StatusOK {
		t.Fatalf("orders/create: %d %s", r.status, r.body)
	}
	if o := waitPaymentStatus(t, m, "4001", "unpaid", 15*time.Second); o.Status != "placed" {
		t.Fatalf("order after orders/create = %+v, want placed", o)
	}

	for _, topic := range []string{shopify.TopicOrdersPaid, shopify.TopicOrdersCancelled, shopify.TopicOrdersFulfilled} {
		replay := webhook.Request{Header: created.Header.Clone(), Body: created.Body}
		id := "w-replayed-as-" + topic
		replay.Header.Set(shopify.TopicHeader, topic)
		replay.Header.Set(shopify.WebhookIDHeader, id)
		replay.Header.Set(shopify.TriggeredAtHeader, time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
		if r := post(t, url, replay); r.status != http.StatusOK {
			t.Fatalf("replay as %s: %d %s (a genuine signature is accepted; its facts are not)", topic, r.status, r.body)
		}
		e.waitInbox(shopifySource, id, domain.InboxApplied)
		o, _ := getOrder(t, m, "4001")
		if o.Status != "placed" || o.PaymentStatus != "unpaid" {
			t.Fatalf("after the orders/create body replayed as %s: order %+v, want placed and unpaid", topic, o)
		}
	}
	if n := e.count(`SELECT count(*) FROM applied_events WHERE source = $1`, shopifySource); n != 1 {
		t.Errorf("applied events = %d, want 1: the replays must apply nothing", n)
	}

	if r := post(t, url, sample(shopify.TopicOrdersPaid, "w-paid")); r.status != http.StatusOK {
		t.Fatalf("orders/paid: %d %s", r.status, r.body)
	}
	waitPaymentStatus(t, m, "4001", "paid", 15*time.Second)
}

// forgeCRC returns forged with trailing JSON whitespace chosen so that its IEEE CRC-32
// equals genuine's: what PayPal signs of a body. Each of 48 trailing bytes is a space or
// a tab; CRC-32 is affine over GF(2), so the choice is a linear system, solved here.
func forgeCRC(t *testing.T, genuine, forged []byte) []byte {
	t.Helper()
	const n = 48
	base := append(bytes.Clone(forged), bytes.Repeat([]byte(" "), n)...)
	crcBase := crc32.ChecksumIEEE(base)
	type vec struct {
		v    uint32
		mask uint64
	}
	var basis [32]*vec
	for i := 0; i < n; i++ {
		b := bytes.Clone(base)
		b[len(forged)+i] = '\t'
		x := &vec{crc32.ChecksumIEEE(b) ^ crcBase, 1 << i}
		for bit := 31; bit >= 0 && x.v != 0; bit-- {
			if x.v>>bit&1 == 0 {
				continue
			}
			if basis[bit] == nil {
				basis[bit] = x
				break
			}
			x.v, x.mask = x.v^basis[bit].v, x.mask^basis[bit].mask
		}
	}
	target, mask := crc32.ChecksumIEEE(genuine)^crcBase, uint64(0)
	for bit := 31; bit >= 0; bit-- {
		if target>>bit&1 == 0 {
			continue
		}
		if basis[bit] == nil {
			t.Fatal("forgeCRC: no solution with these trailing bytes")
		}
		target, mask = target^basis[bit].v, mask^basis[bit].mask
	}
	for i := 0; i < n; i++ {
		if mask>>i&1 == 1 {
			base[len(forged)+i] = '\t'
		}
	}
	if crc32.ChecksumIEEE(base) != crc32.ChecksumIEEE(genuine) {
		t.Fatal("forgeCRC: CRC differs")
	}
	return base
}

// payPalSetup is a Tradewind serving two PayPal sources pinned to the simulator's
// certificate: acme-paypal without API credentials, acme-paypal-api with credentials for
// a fake PayPal API on loopback.
type payPalSetup struct {
	e       *env
	m       *Main
	api     *paypal.FakeAPI
	plain   domain.Source
	withAPI domain.Source
}

func startPayPal(t *testing.T) payPalSetup {
	t.Helper()
	e := newEnv(t)
	cert := filepath.Join(t.TempDir(), "paypal-sim.pem")
	if err := paypal.WriteSimulatorCert(cert); err != nil {
		t.Fatal(err)
	}
	api := paypal.NewFakeAPI("client-1", "secret-1")
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	plain := domain.Source{ID: "acme-paypal", Provider: paypal.Kind, Settings: map[string]string{"webhook_id": "WH-TEST-1", "cert_file": cert}}
	withAPI := domain.Source{ID: "acme-paypal-api", Provider: paypal.Kind, Settings: map[string]string{"webhook_id": "WH-TEST-2", "cert_file": cert,
		"client_id": "client-1", "client_secret": "secret-1", "api_base_url": srv.URL}}
	m := e.startWith(map[string]domain.Source{plain.ID: plain, withAPI.ID: withAPI})
	return payPalSetup{e: e, m: m, api: api, plain: plain, withAPI: withAPI}
}

// capture is a genuine, signed PAYMENT.CAPTURE.COMPLETED of 20.00 for order ref, sent at at.
func payPalCapture(t *testing.T, src domain.Source, eventID, ref string, at time.Time) webhook.Request {
	t.Helper()
	r, err := paypal.Provider{}.Sample(src, "PAYMENT.CAPTURE.COMPLETED", webhook.SampleOptions{EventID: eventID, OrderRef: ref, Amount: 2000, Quantity: 1, Currency: "USD", Now: at})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// forgedCapture is genuine's body for 2100.00 under event WH-<eventID> (genuine's own
// event id when eventID is ""), CRC-matched, under genuine's signed headers: it verifies.
func forgedCapture(t *testing.T, genuine webhook.Request, eventID string) webhook.Request {
	t.Helper()
	body := strings.Replace(string(genuine.Body), `"value":"20.00"`, `"value":"2100.00"`, 1)
	if body == string(genuine.Body) {
		t.Fatal("the sample's amount is no longer written as \"value\":\"20.00\"")
	}
	if eventID != "" {
		i := strings.Index(body, `"id":"WH-`)
		j := strings.Index(body[i+len(`"id":"`):], `"`)
		body = body[:i] + `"id":"WH-` + eventID + body[i+len(`"id":"`)+j:]
	}
	return webhook.Request{Header: genuine.Header.Clone(), Body: forgeCRC(t, genuine.Body, []byte(body))}
}

// TestPayPalTransmissionIDIsSingleUse: a body forged to the CRC-32 of a genuine
// transmission verifies under its headers; the transmission id, once used, admits no
// other body (401, recorded as replayed_transmission), and the same body again is a
// duplicate. Of concurrent deliveries under one id with different bodies, one is accepted.
func TestPayPalTransmissionIDIsSingleUse(t *testing.T) {
	t.Parallel()
	s := startPayPal(t)
	url := webhookURL(s.m, s.plain.ID)
	genuine := payPalCapture(t, s.plain, "g1", "6001", time.Now())
	if r := post(t, url, genuine); r.status != http.StatusOK {
		t.Fatalf("genuine: %d %s", r.status, r.body)
	}
	forged := forgedCapture(t, genuine, "forged-1")
	r := post(t, url, forged)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, domain.CauseReplayedTransmission) {
		t.Fatalf("forged body under a used transmission id: %d %s, want 401 %s", r.status, r.body, domain.CauseReplayedTransmission)
	}
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		return s.e.count(`SELECT count(*) FROM rejections WHERE source = $1 AND cause = $2`, s.plain.ID, domain.CauseReplayedTransmission) == 1,
			"one replayed_transmission rejection recorded"
	})
	if r := post(t, url, genuine); r.status != http.StatusOK || !strings.Contains(r.body, "duplicate") {
		t.Fatalf("the genuine body again: %d %s, want 200 duplicate", r.status, r.body)
	}
	waitPaymentStatus(t, s.m, "6001", "paid", 15*time.Second)
	if n := s.e.count(`SELECT count(*) FROM inbox WHERE source = $1`, s.plain.ID); n != 1 {
		t.Errorf("inbox rows = %d, want 1 (the genuine event)", n)
	}

	t.Run("concurrent bodies under one transmission id: exactly one accepted", func(t *testing.T) {
		g := payPalCapture(t, s.plain, "g2", "6002", time.Now())
		bodies := []webhook.Request{g}
		for i := range 7 {
			bodies = append(bodies, forgedCapture(t, g, fmt.Sprintf("forged-2-%d", i)))
		}
		statuses := make([]int, len(bodies))
		var wg sync.WaitGroup
		for i, b := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = post(t, url, b).status
			}()
		}
		wg.Wait()
		accepted := 0
		for _, st := range statuses {
			switch st {
			case http.StatusOK:
				accepted++
			case http.StatusUnauthorized:
			default:
				t.Errorf("status %d, want 200 or 401", st)
			}
		}
		if accepted != 1 {
			t.Errorf("accepted %d of %d different bodies under one transmission id (statuses %v), want 1", accepted, len(bodies), statuses)
		}
		if n := s.e.count(`SELECT count(*) FROM inbox WHERE source = $1 AND event_id LIKE 'WH-%2%'`, s.plain.ID); n != 1 {
			t.Errorf("inbox rows for the contested transmission = %d, want 1", n)
		}
	})
}

// TestPayPalEventsAreConfirmedWithPayPalsAPI: with client credentials, an event PayPal
// does not know (the forger's new event id, sent before the genuine transmission) is
// rejected and not applied; a forged body under a genuine event id is applied as
// PayPal's own copy says.
func TestPayPalEventsAreConfirmedWithPayPalsAPI(t *testing.T) {
	t.Parallel()
	s := startPayPal(t)
	url := webhookURL(s.m, s.withAPI.ID)

	// The forger is first: a new event id under a genuine transmission PayPal is about to send.
	genuine := payPalCapture(t, s.withAPI, "g3", "6003", time.Now())
	if err := s.api.Add(genuine.Body); err != nil {
		t.Fatal(err)
	}
	if r := post(t, url, forgedCapture(t, genuine, "forged-3")); r.status != http.StatusOK {
		t.Fatalf("forged body under an unused transmission: %d %s (stored, then confirmed)", r.status, r.body)
	}
	s.e.waitInbox(s.withAPI.ID, "WH-forged-3", domain.InboxRejected)
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		return s.e.count(`SELECT count(*) FROM rejections WHERE source = $1 AND cause = $2`, s.withAPI.ID, domain.CauseNotConfirmed) == 1,
			"one not_confirmed rejection recorded"
	})
	if n := s.e.count(`SELECT count(*) FROM applied_events WHERE source = $1`, s.withAPI.ID); n != 0 {
		t.Fatalf("applied events = %d, want 0: an event PayPal does not know was applied", n)
	}

	// PayPal retries the genuine event in a new transmission.
	if r := post(t, url, payPalCapture(t, s.withAPI, "g3", "6003", time.Now().Add(time.Second))); r.status != http.StatusOK {
		t.Fatalf("genuine retry: %d %s", r.status, r.body)
	}
	waitPaymentStatus(t, s.m, "6003", "paid", 15*time.Second)

	// A forged body under a genuine event id, first to arrive: PayPal's copy is applied.
	g4 := payPalCapture(t, s.withAPI, "g4", "6004", time.Now())
	if err := s.api.Add(g4.Body); err != nil {
		t.Fatal(err)
	}
	if r := post(t, url, forgedCapture(t, g4, "")); r.status != http.StatusOK {
		t.Fatalf("forged body under g4's id: %d %s", r.status, r.body)
	}
	waitPaymentStatus(t, s.m, "6004", "paid", 15*time.Second)
	if n := s.e.count(`SELECT count(*) FROM payments WHERE order_ref = '6004' AND captured = 2000`); n != 1 {
		t.Errorf("payments of order 6004 capturing 20.00 (PayPal's amount) = %d, want 1; the forged 2100.00 was applied", n)
	}
}
