package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/tradewind/tradewind/adapters/adyen"
	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/simulate"
	"github.com/tradewind/tradewind/internal/sourcesfile"
	"github.com/tradewind/tradewind/internal/testenv"
)

// loadSources loads a sources file as `tradewind simulate` does.
func loadSources(path string) (map[string]domain.Source, error) {
	return sourcesfile.LoadSources(path, osEnv)
}

// The tests here drive every provider the way a newcomer does after `make run`: the
// sources of examples/sources.yaml, deliveries built and sent by the code of `tradewind
// simulate` (which also serves the fake gateways and store), a Tradewind with all roles.

const demoSourcesFile = "../../examples/sources.yaml"

// demoSources writes a copy of examples/sources.yaml for one test: cert_file made
// absolute (the test does not run in the checkout's root) and the api_base_url of the
// given providers replaced, so that parallel tests do not share the demo's fixed ports.
// It returns the copy's path and its sources, loaded as `tradewind all` loads them.
func demoSources(t *testing.T, apiBaseURLs map[string]string) (string, map[string]domain.Source) {
	t.Helper()
	raw, err := os.ReadFile(demoSourcesFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Sources []map[string]any `yaml:"sources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Sources {
		if f, ok := s["cert_file"].(string); ok {
			abs, err := filepath.Abs(filepath.Join("../..", f))
			if err != nil {
				t.Fatal(err)
			}
			s["cert_file"] = abs
		}
		if u, ok := apiBaseURLs[s["provider"].(string)]; ok {
			s["api_base_url"] = u
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	sources, err := sourcesfile.LoadSources(path, osEnv)
	if err != nil {
		t.Fatalf("the demo sources do not load: %v", err)
	}
	return path, sources
}

// startWith runs a Main with all roles serving sources (migrating first) until the test ends.
func (e *env) startWith(sources map[string]domain.Source) *Main {
	e.t.Helper()
	m := NewMain(e.config(), sources, testLogger())
	if err := m.Run(context.Background(), Roles{Serve: true, Work: true, Schedule: true, Migrate: true}); err != nil {
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

// fullOrder is GET /api/v1/orders/{ref} without its history.
type fullOrder struct {
	Ref           string `json:"ref"`
	Status        string `json:"status"`
	PaymentStatus string `json:"payment_status"`
	Currency      string `json:"currency"`
	Total         int64  `json:"total"`
	Lines         []struct {
		SKU       string `json:"sku"`
		Quantity  int64  `json:"quantity"`
		UnitPrice int64  `json:"unit_price"`
	} `json:"lines"`
}

// apiGet GETs an /api/v1 path into v; it returns the status code.
func apiGet(t *testing.T, m *Main, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/api/v1/"+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// waitOrder polls the order until ok accepts it and returns it.
func waitOrder(t *testing.T, m *Main, ref string, what string, ok func(fullOrder) bool) fullOrder {
	t.Helper()
	var o fullOrder
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		o = fullOrder{}
		code := apiGet(t, m, "orders/"+ref, &o)
		return code == http.StatusOK && ok(o), fmt.Sprintf("order %s %s (now %d %+v)", ref, what, code, o)
	})
	return o
}

// providerRun is one case of TestEveryProviderEndToEnd after simulate has sent.
type providerRun struct {
	e      *env
	m      *Main
	ref    string
	report simulate.Report
}

func (r providerRun) waitPaid(t *testing.T) fullOrder {
	t.Helper()
	return waitOrder(t, r.m, r.ref, "paid", func(o fullOrder) bool { return o.PaymentStatus == "paid" })
}

func (r providerRun) waitPlacedWithLines(t *testing.T) {
	t.Helper()
	o := waitOrder(t, r.m, r.ref, "placed with its lines", func(o fullOrder) bool { return o.Status == "placed" && len(o.Lines) > 0 })
	want := fullOrder{Ref: r.ref, Status: "placed", PaymentStatus: "unpaid", Currency: "USD", Total: 2500, Lines: o.Lines[:0]}
	want.Lines = append(want.Lines, struct {
		SKU       string `json:"sku"`
		Quantity  int64  `json:"quantity"`
		UnitPrice int64  `json:"unit_price"`
	}{"TEE-M", 2, 1250})
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// waitRejected waits for the one callback to be refused by the gateway: inbox status
// rejected, a rejection with cause not_confirmed, nothing applied.
func (r providerRun) waitRejected(t *testing.T) {
	t.Helper()
	// The worker marks the row, then records the rejection: wait for both.
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		rejected := r.e.count(`SELECT count(*) FROM inbox WHERE status = 'rejected'`)
		recorded := r.e.count(`SELECT count(*) FROM rejections r JOIN inbox i ON i.id = r.inbox_id
			WHERE r.cause = 'not_confirmed' AND i.source = $1`, r.report.Source.ID)
		return rejected == 1 && recorded == 1, fmt.Sprintf("the callback's inbox row rejected (%d) and one not_confirmed rejection naming it (%d)", rejected, recorded)
	})
	if n := r.e.count(`SELECT count(*) FROM applied_events`); n != 0 {
		t.Errorf("applied events = %d, want 0: an unconfirmed callback was applied", n)
	}
	if code := apiGet(t, r.m, "orders/"+r.ref, &fullOrder{}); code != http.StatusNotFound {
		t.Errorf("GET order %s = %d, want 404: nothing may be applied", r.ref, code)
	}
}

// flowOf is a provider's Flow.
func flowOf(t *testing.T, kind string) []string {
	t.Helper()
	a, ok := registry.Lookup(kind)
	if !ok {
		t.Fatalf("no provider %s", kind)
	}
	return a.Flow()
}

// Where the fake API of powertranz, plugnpay and bigcommerce comes from in a case.
const (
	fakeBySimulate = "simulate"         // plain `simulate <provider>` serves it while it sends
	fakeByServe    = "simulate --serve" // a `simulate --serve` runs beside it
)

func TestEveryProviderEndToEnd(t *testing.T) {
	t.Parallel()
	lines := func(o *simulate.Options) { o.Sample.SKU, o.Sample.Quantity, o.Sample.Amount = "TEE-M", 2, 1250 }
	tests := []struct {
		name  string
		kind  string
		types []string // nil: the provider's most common type (its Flow with --batch)
		fake  string   // for providers that call an API: who serves its fake
		opts  func(*simulate.Options)
		check func(t *testing.T, r providerRun)
	}{
		{name: "stripe payment makes the order paid", kind: "stripe", types: []string{"payment_intent.succeeded"},
			check: func(t *testing.T, r providerRun) {
				if o := r.waitPaid(t); o.Status != "pending" || o.Currency != "USD" {
					t.Errorf("order = %+v, want pending (payment before order) in USD", o)
				}
			}},
		{name: "shopify orders/create places the order with its lines", kind: "shopify", types: []string{"orders/create"}, opts: lines,
			check: func(t *testing.T, r providerRun) { r.waitPlacedWithLines(t) }},
		{name: "woocommerce order.created places the order with its lines", kind: "woocommerce", types: []string{"order.created"}, opts: lines,
			check: func(t *testing.T, r providerRun) { r.waitPlacedWithLines(t) }},
		{name: "woocommerce creation ping is answered 200 and stored ignored", kind: "woocommerce", types: []string{"ping"},
			check: func(t *testing.T, r providerRun) {
				if a := r.report.Answers[0]; a.Status != "200" || !strings.Contains(a.Body, `"ignored"`) {
					t.Errorf("answer = %s %s, want 200 with status ignored", a.Status, a.Body)
				}
				if n := r.e.count(`SELECT count(*) FROM inbox WHERE status = 'ignored' AND event_type = 'ping'`); n != 1 {
					t.Errorf("ignored ping rows = %d, want 1", n)
				}
			}},
		{name: "bigcommerce thin order is fetched from the store simulate serves", kind: "bigcommerce", types: []string{"store/order/created"},
			fake: fakeBySimulate, opts: lines,
			check: func(t *testing.T, r providerRun) { r.waitPlacedWithLines(t) }},
		{name: "bigcommerce thin stock update is fetched from simulate --serve's store", kind: "bigcommerce", types: []string{"store/sku/inventory/updated"},
			fake: fakeByServe, opts: func(o *simulate.Options) { o.Sample.SKU, o.Sample.Quantity = "MUG-1", 7 },
			check: func(t *testing.T, r providerRun) {
				var level struct {
					OnHand int64 `json:"on_hand"`
				}
				testenv.Eventually(t, 15*time.Second, func() (bool, string) {
					return apiGet(t, r.m, "inventory/MUG-1", &level) == http.StatusOK && level.OnHand == 7, fmt.Sprintf("MUG-1 on hand 7 (now %+v)", level)
				})
			}},
		{name: "paypal capture signed with the committed simulator key makes the order paid", kind: "paypal", types: []string{"PAYMENT.CAPTURE.COMPLETED"},
			check: func(t *testing.T, r providerRun) { r.waitPaid(t) }},
		{name: "adyen batch is answered [accepted] and every item applied", kind: "adyen", opts: func(o *simulate.Options) { o.Batch = true },
			check: func(t *testing.T, r providerRun) {
				if len(r.report.Sent) != 1 {
					t.Fatalf("sent %d requests, want one batch", len(r.report.Sent))
				}
				if a := r.report.Answers[0]; a.Status != "200" || a.Body != adyen.Ack {
					t.Errorf("answer = %s %q, want 200 %q", a.Status, a.Body, adyen.Ack)
				}
				flow := flowOf(t, adyen.Kind)
				testenv.Eventually(t, 15*time.Second, func() (bool, string) {
					n := r.e.count(`SELECT count(*) FROM inbox WHERE status = 'applied'`)
					return n == len(flow), fmt.Sprintf("one applied inbox row per item: %d of %d", n, len(flow))
				})
				if n := r.e.count(`SELECT count(*) FROM inbox`); n != len(flow) {
					t.Errorf("inbox rows = %d, want %d", n, len(flow))
				}
				var o fullOrder
				if apiGet(t, r.m, "orders/"+r.ref, &o); o.PaymentStatus != "refunded" || o.Currency != "EUR" {
					t.Errorf("order = %+v, want refunded in EUR after AUTHORISATION, CAPTURE, REFUND", o)
				}
			}},
		// Currencies whose provider unit is not ISO 4217's: the simulator writes the provider's
		// units on the wire (Stripe ISK 279000, Adyen IDR 15000), the store holds ISO's.
		{name: "stripe ISK payment is stored in ISO minor units", kind: "stripe", types: []string{"payment_intent.succeeded"},
			opts: func(o *simulate.Options) { o.Sample.Currency, o.Sample.Amount = "ISK", 2790 },
			check: func(t *testing.T, r providerRun) {
				if b := string(r.report.Sent[0].Request.Body); !strings.Contains(b, `"amount_received":279000`) {
					t.Fatalf("sent %s, want Stripe's ISK amount 279000 on the wire", b)
				}
				r.waitPaid(t)
				if n := r.e.count(`SELECT captured FROM payments WHERE currency = 'ISK'`); n != 2790 {
					t.Errorf("captured = %d ISK, want 2790 (Stripe sent 279000 with two decimals)", n)
				}
			}},
		{name: "adyen IDR capture is stored in ISO minor units", kind: "adyen", types: []string{"CAPTURE"},
			opts: func(o *simulate.Options) { o.Sample.Currency, o.Sample.Amount = "IDR", 1500000 },
			check: func(t *testing.T, r providerRun) {
				if b := string(r.report.Sent[0].Request.Body); !strings.Contains(b, `"value":15000,`) {
					t.Fatalf("sent %s, want Adyen's IDR value 15000 on the wire", b)
				}
				r.waitPaid(t)
				if n := r.e.count(`SELECT captured FROM payments WHERE currency = 'IDR'`); n != 1500000 {
					t.Errorf("captured = %d IDR, want 1500000 (Adyen sent 15000 without decimals)", n)
				}
			}},
		{name: "square payment.updated makes the order paid", kind: "square", types: []string{"payment.updated"},
			check: func(t *testing.T, r providerRun) { r.waitPaid(t) }},
		{name: "fygaro hook makes the order paid", kind: "fygaro",
			check: func(t *testing.T, r providerRun) { r.waitPaid(t) }},
		{name: "powertranz callback confirmed by the gateway simulate serves", kind: "powertranz", fake: fakeBySimulate,
			check: func(t *testing.T, r providerRun) { r.waitPaid(t) }},
		{name: "powertranz callback the gateway does not confirm is rejected", kind: "powertranz", fake: fakeBySimulate,
			opts:  func(o *simulate.Options) { o.Unconfirmed = true },
			check: func(t *testing.T, r providerRun) { r.waitRejected(t) }},
		{name: "plugnpay callback confirmed by simulate --serve's gateway", kind: "plugnpay", fake: fakeByServe,
			check: func(t *testing.T, r providerRun) { r.waitPaid(t) }},
		{name: "plugnpay callback the gateway does not confirm is rejected", kind: "plugnpay", fake: fakeByServe,
			opts:  func(o *simulate.Options) { o.Unconfirmed = true },
			check: func(t *testing.T, r providerRun) { r.waitRejected(t) }},
		{name: "standardwebhooks flow fulfils a paid order", kind: "standardwebhooks", types: flowOf(t, "standardwebhooks"),
			check: func(t *testing.T, r providerRun) {
				waitOrder(t, r.m, r.ref, "fulfilled and paid", func(o fullOrder) bool { return o.Status == "fulfilled" && o.PaymentStatus == "paid" })
			}},
		{name: "hmac flow fulfils a paid order", kind: "hmac", types: flowOf(t, "hmac"),
			check: func(t *testing.T, r providerRun) {
				waitOrder(t, r.m, r.ref, "fulfilled and paid", func(o fullOrder) bool { return o.Status == "fulfilled" && o.PaymentStatus == "paid" })
			}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.kind] = true
	}
	for _, k := range registry.Kinds() {
		if !covered[k] {
			t.Errorf("provider %s has no end-to-end case", k)
		}
	}

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			urls := map[string]string{}
			addr := ""
			if tt.fake != "" {
				addr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
				urls[tt.kind] = "http://" + addr
			}
			path, sources := demoSources(t, urls)
			if tt.fake == fakeByServe {
				serveFakes(t, path, tt.kind, addr)
			}
			m := e.startWith(sources)

			ref := fmt.Sprint(7001 + i)
			o := simulate.Options{
				URL: webhookURL(m, "demo-"+tt.kind), SourcesFile: path, LoadSources: loadSources,
				Count: 1, Concurrency: 1, Duplicates: 1, WaitTimeout: 15 * time.Second,
				Sample: webhook.SampleOptions{OrderRef: ref},
			}
			if tt.opts != nil {
				tt.opts(&o)
			}
			report, err := simulate.Send(context.Background(), io.Discard, tt.kind, tt.types, o)
			if err != nil {
				t.Fatalf("simulate %s: %v", tt.kind, err)
			}
			for i, a := range report.Answers {
				if !strings.HasPrefix(a.Status, "2") {
					t.Fatalf("%s answered %s %s, want 2xx", report.Sent[i].Type, a.Status, a.Body)
				}
			}
			tt.check(t, providerRun{e: e, m: m, ref: ref, report: report})
		})
	}
}

// serveFakes runs `tradewind simulate --serve <kind>` on the sources file at path
// until the test ends, and waits until it listens on addr.
func serveFakes(t *testing.T, path, kind, addr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- simulate.Serve(ctx, io.Discard, []string{kind}, simulate.Options{SourcesFile: path, LoadSources: loadSources})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("simulate --serve: %v", err)
		}
	})
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil, "simulate --serve listening on " + addr
	})
}

// TestShuffledFlowWithDuplicatesEndsLikeTheCanonicalOrder applies a provider's Flow for
// one order in its natural order, one event at a time, then sends it for four more orders
// shuffled with every event three times (`simulate --shuffle --duplicates 3 --count 4`,
// two requests at a time): every order must end in the canonical one's state.
func TestShuffledFlowWithDuplicatesEndsLikeTheCanonicalOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind string
	}{
		{"shopify order, payment, fulfilment, refund", "shopify"},
		{"stripe authorization, capture, refund", "stripe"},
		{"standardwebhooks order, authorization, capture, fulfilment", "standardwebhooks"},
		{"adyen authorisation, capture, refund", "adyen"},
		{"paypal approval, capture, completion, refund", "paypal"},
		{"square order, payment, refund", "square"},
		{"woocommerce order created, updated, stock", "woocommerce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			path, sources := demoSources(t, nil)
			m := e.startWith(sources)
			flow := flowOf(t, tt.kind)
			base := simulate.Options{URL: webhookURL(m, "demo-"+tt.kind), SourcesFile: path, LoadSources: loadSources,
				Count: 1, Concurrency: 1, Duplicates: 1, WaitTimeout: time.Second}

			// The canonical order: each event sent once, and applied before the next is sent.
			canonical := base
			canonical.Sample.OrderRef = "9000"
			for i, typ := range flow {
				if _, err := simulate.Send(context.Background(), io.Discard, tt.kind, []string{typ}, canonical); err != nil {
					t.Fatal(err)
				}
				testenv.Eventually(t, 10*time.Second, func() (bool, string) {
					return e.count(`SELECT count(*) FROM inbox WHERE status = 'applied'`) == i+1, typ + " applied"
				})
			}
			shuffled := base
			shuffled.Shuffle, shuffled.Duplicates, shuffled.Count, shuffled.Concurrency = true, 3, 4, 2
			shuffled.Rand = rand.New(rand.NewPCG(1, 2))
			r, err := simulate.Send(context.Background(), io.Discard, tt.kind, nil, shuffled)
			if err != nil {
				t.Fatal(err)
			}

			// The run really was shuffled and duplicated.
			distinct := len(flow) * shuffled.Count
			if len(r.Sent) != distinct*shuffled.Duplicates {
				t.Fatalf("sent %d deliveries, want %d", len(r.Sent), distinct*shuffled.Duplicates)
			}
			reordered := false
			for i := 0; i < len(r.Sent); i += len(flow) * shuffled.Duplicates {
				var order []string
				for _, d := range r.Sent[i : i+len(flow)*shuffled.Duplicates] {
					if !d.Dup {
						order = append(order, d.Type)
					}
				}
				reordered = reordered || !slices.Equal(order, flow)
			}
			if !reordered {
				t.Error("no flow was sent out of its natural order; pick another seed")
			}

			// Every event stored once, and all of them dealt with.
			want := distinct + len(flow)
			testenv.Eventually(t, 20*time.Second, func() (bool, string) {
				stored := e.count(`SELECT count(*) FROM inbox`)
				waiting := e.count(`SELECT count(*) FROM inbox WHERE status = 'received'`)
				return stored == want && waiting == 0, fmt.Sprintf("%d inbox rows (want %d), %d still waiting", stored, want, waiting)
			})
			if n := e.count(`SELECT count(*) FROM inbox WHERE status <> 'applied'`); n != 0 {
				t.Errorf("%d inbox rows not applied", n)
			}

			var wantOrder fullOrder
			if apiGet(t, m, "orders/9000", &wantOrder) != http.StatusOK {
				t.Fatal("canonical order 9000 not found")
			}
			for _, ref := range r.Refs {
				var got fullOrder
				if apiGet(t, m, "orders/"+ref, &got) != http.StatusOK {
					t.Errorf("order %s not found", ref)
					continue
				}
				got.Ref = wantOrder.Ref
				if diff := cmp.Diff(wantOrder, got); diff != "" {
					t.Errorf("order %s differs from the canonical order (-want +got):\n%s", ref, diff)
				}
			}
		})
	}
}

// TestDemoPayPalCertificateIsTheSimulators keeps examples/ and the simulator's key in step.
func TestDemoPayPalCertificateIsTheSimulators(t *testing.T) {
	t.Parallel()
	_, sources := demoSources(t, nil)
	got, err := os.ReadFile(sources["demo-paypal"].Settings["cert_file"])
	if err != nil {
		t.Fatal(err)
	}
	want, err := paypal.SimulatorCertPEM()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("demo-paypal's cert_file is not paypal.SimulatorCertPEM(); copy adapters/paypal/simulator_cert.pem to it")
	}
}

// TestSimulatePlansEveryProviderWithDefaults builds, without sending, what `tradewind
// simulate <provider> --shuffle --count 3 --duplicates 2` builds for every demo source:
// default order refs must suit every provider (the storefronts want numeric ids).
func TestSimulatePlansEveryProviderWithDefaults(t *testing.T) {
	t.Parallel()
	path, _ := demoSources(t, nil)
	for _, kind := range registry.Kinds() {
		t.Run(kind, func(t *testing.T) {
			a, _ := registry.Lookup(kind)
			o := simulate.Options{SourcesFile: path, LoadSources: loadSources, Count: 3, Concurrency: 1, Duplicates: 2, Shuffle: true}
			src, err := simulate.ResolveSource(kind, o)
			if err != nil {
				t.Fatal(err)
			}
			refs, sent, err := simulate.Plan(a, src, nil, o)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if len(sent) != 3*2*len(a.Flow()) {
				t.Errorf("planned %d deliveries, want %d", len(sent), 3*2*len(a.Flow()))
			}
			for _, ref := range refs {
				if strings.Trim(ref, "0123456789") != "" {
					t.Errorf("order ref %q is not numeric", ref)
				}
			}
			if len(slices.Compact(slices.Clone(refs))) != 3 {
				t.Errorf("order refs %v are not distinct", refs)
			}
			o.Batch = true
			_, _, err = simulate.Plan(a, src, nil, o)
			if _, batches := a.(webhook.Batcher); batches != (err == nil) {
				t.Errorf("--batch: err = %v; %s batches: %v", err, kind, batches)
			}
		})
	}
}
