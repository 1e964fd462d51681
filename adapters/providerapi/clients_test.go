package providerapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/bigcommerce"
	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/providerapi"
	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/square"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/woocommerce"
	"github.com/tradewind/tradewind/domain"
)

// opened is a provider's client as the test drives it: its listing, its lookup
// by id (nil for a client without one), and its Retry, for the test's hooks.
type opened struct {
	list  iter.Seq2[json.RawMessage, error]
	order func(ctx context.Context, id string) (json.RawMessage, bool, error)
	retry *providerapi.Retry
}

// clientCase is one provider's REST client, with what its API answers.
type clientCase struct {
	name     string
	settings map[string]string // "{base}" stands for the test server's URL
	open     func(t *testing.T, src domain.Source, hc *http.Client) opened
	// page1 (which says another page follows) and page2 (the last) answer the
	// listing; refusal is the body of a 400; order the body of a found order.
	page1, page2, refusal, order answer
}

var (
	background = context.Background()
	since      = time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	until      = since.Add(24 * time.Hour)
)

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func clientCases() []clientCase {
	bcPage := make([]string, 250)
	for i := range bcPage {
		bcPage[i] = fmt.Sprintf(`{"id":%d}`, i+1)
	}
	return []clientCase{
		{
			name:     "stripe events",
			settings: map[string]string{"api_key": "sk_test_1", "api_base_url": "{base}"},
			open: func(t *testing.T, src domain.Source, hc *http.Client) opened {
				a, err := stripe.NewAPI(src, hc)
				noErr(t, err)
				return opened{list: a.Events(background, since, until, []string{"charge.refunded", "payment_intent.succeeded"}), retry: &a.Retry}
			},
			page1:   answer{200, nil, `{"object":"list","data":[{"id":"evt_2"},{"id":"evt_1"}],"has_more":true,"url":"/v1/events"}`},
			page2:   answer{200, nil, `{"object":"list","data":[{"id":"evt_0"}],"has_more":false,"url":"/v1/events"}`},
			refusal: answer{400, nil, `{"error":{"type":"invalid_request_error","message":"Invalid timestamp"}}`},
		},
		{
			name:     "stripe payment intents",
			settings: map[string]string{"api_key": "sk_test_1", "api_base_url": "{base}/"},
			open: func(t *testing.T, src domain.Source, hc *http.Client) opened {
				a, err := stripe.NewAPI(src, hc)
				noErr(t, err)
				return opened{list: a.PaymentIntents(background, since, time.Time{}), retry: &a.Retry}
			},
			page1:   answer{200, nil, `{"object":"list","data":[{"id":"pi_2"},{"id":"pi_1"}],"has_more":true,"url":"/v1/payment_intents"}`},
			page2:   answer{200, nil, `{"object":"list","data":[{"id":"pi_0"}],"has_more":false,"url":"/v1/payment_intents"}`},
			refusal: answer{400, nil, `{"error":{"type":"invalid_request_error","message":"Invalid timestamp"}}`},
		},
		{
			name:     "square payments",
			settings: map[string]string{"access_token": "EAAA-1", "location_id": "L1", "api_base_url": "{base}"},
			open: func(t *testing.T, src domain.Source, hc *http.Client) opened {
				a, err := square.NewAPI(src, hc)
				noErr(t, err)
				return opened{list: a.Payments(background, since, until), retry: &a.Retry}
			},
			page1:   answer{200, nil, `{"payments":[{"id":"p1"},{"id":"p2"}],"cursor":"c2"}`},
			page2:   answer{200, nil, `{"payments":[{"id":"p3"}]}`},
			refusal: answer{400, nil, `{"errors":[{"category":"INVALID_REQUEST_ERROR","code":"INVALID_TIME","detail":"begin_time is not RFC 3339"}]}`},
		},
		{
			name:     "shopify orders",
			settings: map[string]string{"admin_token": "shpat_1", "api_base_url": "{base}/admin/api/2024-10"},
			open: func(t *testing.T, src domain.Source, hc *http.Client) opened {
				a, err := shopify.NewAPI(src, hc)
				noErr(t, err)
				return opened{list: a.Orders(background, since, until), order: a.Order, retry: &a.Retry}
			},
			page1: answer{200, map[string]string{"Link": `<{base}/admin/api/2024-10/orders.json?limit=250&page_info=abc>; rel="next"`},
				`{"orders":[{"id":1},{"id":2}]}`},
			page2:   answer{200, nil, `{"orders":[{"id":3}]}`},
			refusal: answer{400, nil, `{"errors":{"updated_at_min":["is invalid"]}}`},
			order:   answer{200, nil, `{"order":{"id":1001}}`},
		},
		{
			name:     "woocommerce orders",
			settings: map[string]string{"consumer_key": "ck_1", "consumer_secret": "cs_1", "api_base_url": "{base}"},
			open: func(t *testing.T, src domain.Source, hc *http.Client) opened {
				a, err := woocommerce.NewAPI(src, hc)
				noErr(t, err)
				return opened{list: a.Orders(background, since, until), order: a.Order, retry: &a.Retry}
			},
			page1:   answer{200, map[string]string{"X-WP-TotalPages": "2"}, `[{"id":1},{"id":2}]`},
			page2:   answer{200, map[string]string{"X-WP-TotalPages": "2"}, `[{"id":3}]`},
			refusal: answer{400, nil, `{"code":"rest_invalid_param","message":"Invalid parameter(s): modified_after","data":{"status":400}}`},
			order:   answer{200, nil, `{"id":1001}`},
		},
		{
			name:     "bigcommerce orders",
			settings: map[string]string{"store_hash": "abc", "access_token": "tok", "api_base_url": "{base}"},
			open: func(t *testing.T, src domain.Source, hc *http.Client) opened {
				a, err := bigcommerce.NewOrdersAPI(src, hc)
				noErr(t, err)
				return opened{list: a.Orders(background, since, until), order: a.Order, retry: &a.Retry}
			},
			page1:   answer{200, nil, "[" + strings.Join(bcPage, ",") + "]"},
			page2:   answer{200, nil, `[{"id":251}]`},
			refusal: answer{400, nil, `[{"status":400,"message":"The field 'min_date_modified' is invalid."}]`},
			order:   answer{200, nil, `{"id":1001}`},
		},
		{
			name:     "paypal events",
			settings: map[string]string{"client_id": "client-1", "client_secret": "secret-1", "api_base_url": "{base}"},
			open: func(t *testing.T, src domain.Source, hc *http.Client) opened {
				a, err := paypal.NewListingAPI(src, hc)
				noErr(t, err)
				return opened{list: a.Events(background, since, until), retry: &a.Retry}
			},
			page1: answer{200, nil, `{"events":[{"id":"WH-2"},{"id":"WH-1"}],"count":2,"links":[` +
				`{"href":"https://api-m.sandbox.paypal.com/v1/notifications/webhooks-events?page_size=100&amp;move_to=next&amp;offset=2","rel":"next","method":"GET"}]}`},
			page2:   answer{200, nil, `{"events":[{"id":"WH-0"}],"count":1,"links":[]}`},
			refusal: answer{400, nil, `{"name":"INVALID_REQUEST","message":"start_time is invalid"}`},
		},
	}
}

// recorder answers each request with the next of its answers (the last from
// then on; PayPal's token requests get a token) and writes each request down:
// method, URI, the headers that carry credentials or shape the answer, body.
type recorder struct {
	mu       sync.Mutex
	answers  []answer
	n        int
	requests []string
}

func (s *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	line := r.Method + " " + r.URL.RequestURI()
	for _, k := range []string{"Accept", "Authorization", "Content-Type", "Square-Version", "X-Auth-Token", "X-Shopify-Access-Token"} {
		if v := r.Header.Get(k); v != "" {
			line += " | " + k + ": " + v
		}
	}
	if len(body) > 0 {
		line += " | body " + string(body)
	}
	s.mu.Lock()
	s.requests = append(s.requests, line)
	a := answer{200, nil, `{"access_token":"A21AAtoken","token_type":"Bearer","expires_in":32400}`}
	if r.URL.Path != "/v1/oauth2/token" {
		a = s.answers[min(s.n, len(s.answers)-1)]
		s.n++
	}
	s.mu.Unlock()
	base := "http://" + r.Host
	for k, v := range a.header {
		w.Header().Set(k, strings.ReplaceAll(v, "{base}", base))
	}
	w.WriteHeader(a.status)
	fmt.Fprint(w, strings.ReplaceAll(a.body, "{base}", base))
}

// transcript is what a client did and said in one scenario.
type transcript struct {
	Requests []string
	Listed   []string
	Found    []bool
	Slept    []string
	Retried  []string
	Error    string
}

func (tr transcript) lines() []string {
	out := slices.Clone(tr.Requests)
	if len(tr.Listed) > 0 {
		out = append(out, "listed: "+strings.Join(tr.Listed, " "))
	}
	if len(tr.Found) > 0 {
		out = append(out, fmt.Sprint("found: ", tr.Found))
	}
	if len(tr.Slept) > 0 {
		out = append(out, "slept: "+strings.Join(tr.Slept, " "))
	}
	for _, r := range tr.Retried {
		out = append(out, "retried: "+r)
	}
	if tr.Error != "" {
		out = append(out, "error: "+tr.Error)
	}
	return out
}

// TestClients pins what each provider's REST client sends and says, in a
// golden file per client (testdata/clients/*.golden; -update rewrites them): the
// requests of a two-page listing that meets a 429 and a 500 on the way (paths,
// queries, credentials), its waits and retry messages, the errors of a refused
// key, of a refused request, of an API that stays down and, for the
// storefronts, the lookup of an order that is there and of one that is not.
func TestClients(t *testing.T) {
	t.Parallel()
	for _, tc := range clientCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scenarios := map[string][]answer{
				"listing": {{429, map[string]string{"Retry-After": "2"}, `{}`}, tc.page1, {500, nil, `{}`}, tc.page2},
				"refused": {{401, nil, `{}`}},
				"invalid": {tc.refusal},
				"down":    {{503, nil, ``}},
			}
			if tc.order.status != 0 {
				scenarios["lookup"] = []answer{tc.order, {404, nil, `{}`}}
			}
			var got []string
			for _, name := range slices.Sorted(maps.Keys(scenarios)) {
				got = append(got, "== "+name)
				got = append(got, runClient(t, tc, name, scenarios[name]).lines()...)
			}
			golden(t, filepath.Join("testdata", "clients", strings.ReplaceAll(tc.name, " ", "_")+".golden"), got)
		})
	}
}

func runClient(t *testing.T, tc clientCase, scenario string, answers []answer) transcript {
	t.Helper()
	rec := &recorder{answers: answers}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	settings := map[string]string{}
	for k, v := range tc.settings {
		settings[k] = strings.ReplaceAll(v, "{base}", srv.URL)
	}
	var tr transcript
	c := tc.open(t, domain.Source{ID: "src-1", Settings: settings}, srv.Client())
	c.retry.Sleep = func(_ context.Context, d time.Duration) error { tr.Slept = append(tr.Slept, d.String()); return nil }
	c.retry.OnRetry = func(err error) { tr.Retried = append(tr.Retried, err.Error()) }
	var last error
	if scenario == "lookup" {
		for _, id := range []string{"1001", "1002"} {
			_, found, err := c.order(context.Background(), id)
			tr.Found = append(tr.Found, found)
			last = err
		}
	} else {
		for raw, err := range c.list {
			if err != nil {
				last = err
				continue
			}
			var item struct{ ID any }
			_ = json.Unmarshal(raw, &item)
			tr.Listed = append(tr.Listed, fmt.Sprint(item.ID))
		}
	}
	if last != nil {
		tr.Error = last.Error()
	}
	if len(tr.Listed) > 10 { // BigCommerce's full page
		tr.Listed = append(tr.Listed[:3], fmt.Sprintf("… %d in all", len(tr.Listed)))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	tr.Requests = make([]string, len(rec.requests))
	for i, r := range rec.requests {
		tr.Requests[i] = strings.ReplaceAll(r, srv.URL, "{base}")
	}
	return tr
}

// TestClientSettings pins how each provider's client reads its source's
// settings: the words of each refusal (testdata/clients/settings.golden)
// and the base URL it calls.
func TestClientSettings(t *testing.T) {
	t.Parallel()
	base := func(a any, err error) string {
		if err != nil {
			return err.Error()
		}
		switch a := a.(type) {
		case *stripe.API:
			return "base " + a.BaseURL
		case *square.API:
			return "base " + a.BaseURL + " location " + a.LocationID
		case *shopify.API:
			return "base " + a.BaseURL
		case *woocommerce.API:
			return "base " + a.BaseURL
		case *bigcommerce.OrdersAPI:
			return "base " + a.BaseURL
		}
		return "opened"
	}
	open := map[string]func(domain.Source) string{
		"stripe":      func(s domain.Source) string { return base(stripe.NewAPI(s, nil)) },
		"square":      func(s domain.Source) string { return base(square.NewAPI(s, nil)) },
		"shopify":     func(s domain.Source) string { return base(shopify.NewAPI(s, nil)) },
		"woocommerce": func(s domain.Source) string { return base(woocommerce.NewAPI(s, nil)) },
		"bigcommerce": func(s domain.Source) string { return base(bigcommerce.NewOrdersAPI(s, nil)) },
		"paypal":      func(s domain.Source) string { return base(paypal.NewListingAPI(s, nil)) },
	}
	creds := map[string]map[string]string{
		"stripe":      {"api_key": "sk_test_1"},
		"square":      {"access_token": "EAAA-1"},
		"shopify":     {"admin_token": "shpat_1", "shop_domain": "acme.myshopify.com"},
		"woocommerce": {"consumer_key": "ck_1", "consumer_secret": "cs_1", "api_base_url": "https://shop.example.com/"},
		"bigcommerce": {"store_hash": "abc", "access_token": "tok"},
		"paypal":      {"client_id": "client-1", "client_secret": "secret-1"},
	}
	got := map[string]string{}
	for p, o := range open {
		with := func(change map[string]string) string {
			s := map[string]string{}
			for k, v := range creds[p] {
				s[k] = v
			}
			for k, v := range change {
				if v == "" {
					delete(s, k)
				} else {
					s[k] = v
				}
			}
			return o(domain.Source{ID: "src-1", Settings: s})
		}
		got[p+": default"] = with(nil)
		got[p+": no credentials"] = o(domain.Source{ID: "src-1", Settings: map[string]string{}})
		got[p+": api_base_url set"] = with(map[string]string{"api_base_url": "http://127.0.0.1:9/api/"})
		got[p+": api_base_url not a URL"] = with(map[string]string{"api_base_url": "ftp://x"})
		got[p+": api_base_url without a scheme"] = with(map[string]string{"api_base_url": "api.example.com"})
	}
	got["shopify: shop_domain with a path"] = open["shopify"](domain.Source{ID: "src-1", Settings: map[string]string{"admin_token": "t", "shop_domain": "acme.myshopify.com/admin"}})
	got["square: location_id"] = open["square"](domain.Source{ID: "src-1", Settings: map[string]string{"access_token": "t", "location_id": "L1"}})
	got["woocommerce: no api_base_url"] = open["woocommerce"](domain.Source{ID: "src-1", Settings: map[string]string{"consumer_key": "k", "consumer_secret": "s"}})
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(got)) {
		lines = append(lines, k+" -> "+got[k])
	}
	golden(t, filepath.Join("testdata", "clients", "settings.golden"), lines)
}
