package simulate

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/adapters/adyen"
	"github.com/tradewind/tradewind/adapters/bigcommerce"
	"github.com/tradewind/tradewind/adapters/plugnpay"
	"github.com/tradewind/tradewind/adapters/powertranz"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

type simulateOptions struct {
	url, source, sourcesFile string
	secrets                  []string
	settings                 map[string]string
	count, concurrency, dups int
	shuffle                  bool
	batch                    bool // one delivery per flow, for providers that batch (Adyen)
	serve                    bool // serve the fake provider APIs until interrupted; send nothing
	unconfirmed              bool // do not tell the fake gateway/store about the deliveries
	wait                     time.Duration
	sample                   webhook.SampleOptions
	rand                     *rand.Rand // nil: the global source; tests pin a seed
}

func newSimulateCommand(stdout, stderr io.Writer) *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate <provider> [event-type ...]",
		Short: "Send correctly signed sample webhooks of a provider to a URL, like the provider's own CLI",
		Long: `Send correctly signed sample webhooks of a provider to a Tradewind URL.

With no event type, the provider's most common one is sent; with --shuffle or --batch
and no event type, the provider's whole order flow is sent (in random order with
--shuffle, as one batch with --batch). The secret and settings come from
--secret/--setting, or else from the source's entry in the sources file (--source,
default demo-<provider>).

PowerTranz and PlugnPay callbacks are confirmed, and BigCommerce's thin payloads
completed, by the worker calling the provider's API at the source's api_base_url. When
that is a loopback address (as in examples/sources.yaml), simulate serves a fake of that
API there itself, tells it about the deliveries it sends (so they confirm; not with
--unconfirmed), and keeps serving until the worker has called it (at most --wait). If
the port is taken by 'tradewind simulate --serve', it tells that one instead.

'tradewind simulate --serve' only serves those fakes — for every source in the sources
file with a loopback api_base_url, or for the providers named — until Ctrl-C.

Event types by provider (the first is the default; --shuffle and --batch send the flow):
` + sampleTypesHelp(),
		Example: `  tradewind simulate stripe payment_intent.succeeded --order-ref 1001
  tradewind simulate stripe --shuffle --count 100 --concurrency 8 --duplicates 3
  tradewind simulate powertranz --order-ref 1002          # confirmed by the fake gateway it serves
  tradewind simulate powertranz --unconfirmed             # a forged callback: stored, then rejected
  tradewind simulate adyen --batch                        # AUTHORISATION, CAPTURE, REFUND in one request
  tradewind simulate --serve                              # the fake gateways and store, until Ctrl-C
  tradewind simulate stripe charge.refunded --url https://tw.example.com/webhooks/acme-stripe --secret whsec_…`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.serve {
				return nil
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return registry.Kinds(), cobra.ShellCompDirectiveNoFileComp
			}
			if a, ok := registry.Lookup(args[0]); ok {
				return a.SampleTypes(), cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if o.serve {
				return runServe(ctx, stderr, args, o)
			}
			return runSimulate(ctx, stdout, stderr, args[0], args[1:], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "webhook URL (default http://$TRADEWIND_LISTEN/webhooks/<source>)")
	f.StringVar(&o.source, "source", "", "source id to send to and read the secret from (default demo-<provider>)")
	f.StringVar(&o.sourcesFile, "sources-file", "", "sources file to read the secret and settings from (default $TRADEWIND_SOURCES_FILE, else examples/sources.yaml)")
	f.StringArrayVar(&o.secrets, "secret", nil, "signing secret (overrides the sources file)")
	f.StringToStringVar(&o.settings, "setting", nil, "provider setting key=value (overrides the sources file), e.g. notification_url=…")
	f.IntVar(&o.count, "count", 1, "number of distinct events (or order flows with --shuffle/--batch)")
	f.IntVar(&o.concurrency, "concurrency", 1, "requests in flight at once")
	f.IntVar(&o.dups, "duplicates", 1, "send each event this many times, as a provider's retries would")
	f.BoolVar(&o.shuffle, "shuffle", false, "deliver each order's related events in random order")
	f.BoolVar(&o.batch, "batch", false, "send each order's events as one batched delivery (adyen)")
	f.BoolVar(&o.serve, "serve", false, "serve the fake gateway and store APIs of the sources with a loopback api_base_url until Ctrl-C; send nothing")
	f.BoolVar(&o.unconfirmed, "unconfirmed", false, "do not register the deliveries with the fake gateway or store: they are stored, then rejected (powertranz, plugnpay) or fail (bigcommerce)")
	f.DurationVar(&o.wait, "wait", 30*time.Second, "how long to keep serving a fake API for the worker to call it")
	f.StringVar(&o.sample.OrderRef, "order-ref", "", "storefront order id the events name (default: a new numeric one per event or flow)")
	f.StringVar(&o.sample.SKU, "sku", "", "SKU for order lines and stock events")
	f.Int64Var(&o.sample.Quantity, "quantity", 0, "units per order line")
	f.Int64Var(&o.sample.Amount, "amount", 0, "amount in minor units (e.g. 2500 for 25.00 USD)")
	f.StringVar(&o.sample.Currency, "currency", "", "ISO 4217 currency (default USD; EUR for adyen)")
	return cmd
}

// sampleTypesHelp lists every provider's simulated event types and flow, for --help.
func sampleTypesHelp() string {
	var b strings.Builder
	for _, k := range registry.Kinds() {
		a, _ := registry.Lookup(k)
		fmt.Fprintf(&b, "  %s: %s\n    flow: %s\n", k, strings.Join(a.SampleTypes(), " "), strings.Join(a.Flow(), " → "))
	}
	return b.String()
}

// sourcesPath is the sources file simulate reads: --sources-file, else
// $TRADEWIND_SOURCES_FILE, else examples/sources.yaml when it exists, else "".
func sourcesPath(o simulateOptions) string {
	if o.sourcesFile != "" {
		return o.sourcesFile
	}
	if p, _ := osEnv("TRADEWIND_SOURCES_FILE"); p != "" {
		return p
	}
	if _, err := os.Stat("examples/sources.yaml"); err == nil {
		return "examples/sources.yaml"
	}
	return ""
}

// simSource resolves the source to sign for: flags first, then the sources file.
func simSource(kind string, o simulateOptions) (domain.Source, error) {
	id := o.source
	if id == "" {
		id = "demo-" + kind
	}
	src := domain.Source{ID: id, Provider: kind, Settings: map[string]string{}}
	path := sourcesPath(o)
	if path != "" && (len(o.secrets) == 0 || o.source != "") {
		sources, err := LoadSources(path, osEnv)
		if err != nil {
			return src, err
		}
		if s, ok := sources[id]; ok {
			if s.Provider != kind {
				return src, fmt.Errorf("--source %s is a %s source, not %s", id, s.Provider, kind)
			}
			src = s
		} else if len(o.secrets) == 0 {
			return src, fmt.Errorf("source %q is not in %s; pass --source with one of its %s sources, or --secret", id, path, kind)
		}
	}
	if len(o.secrets) > 0 {
		src.Secrets = o.secrets
	}
	if len(o.settings) > 0 {
		settings := make(map[string]string, len(src.Settings)+len(o.settings))
		for k, v := range src.Settings {
			settings[k] = v
		}
		for k, v := range o.settings {
			settings[k] = v
		}
		src.Settings = settings
	}
	return src, nil
}

// simDelivery is one request simulate sends.
type simDelivery struct {
	typ  string                // the event type, or "batch(A,B,…)"
	req  webhook.Request       // as signed
	opts webhook.SampleOptions // what Sample built it from (a batch: its flow's last event)
	seq  int                   // which distinct delivery of the run it is
	dup  bool                  // a repeat of one sent earlier
}

// simAnswer is how Tradewind answered one delivery.
type simAnswer struct {
	status string // the HTTP status code, or "error"
	body   string
}

// accepted reports whether the answer stored something new: a 2xx whose JSON status
// is "accepted". (Adyen's "[accepted]" does not tell; no fake API waits on Adyen.)
func (a simAnswer) accepted() bool {
	var b struct {
		Status string `json:"status"`
	}
	return strings.HasPrefix(a.status, "2") && json.Unmarshal([]byte(a.body), &b) == nil && b.Status == "accepted"
}

// simReport is what one simulate run sent and how it was answered.
type simReport struct {
	src     domain.Source
	url     string
	refs    []string      // the order ref of each flow, in order
	sent    []simDelivery // in sending order
	answers []simAnswer   // answers[i] answers sent[i]
}

// batchers join one flow's deliveries into one, for providers that batch notifications.
var batchers = map[string]func([]webhook.Request) (webhook.Request, error){
	adyen.Kind: adyen.Batch,
}

// planSimulation builds every delivery of a run, signed for src, before anything is sent,
// so that signing errors surface first.
func planSimulation(a registry.Adapter, src domain.Source, types []string, o simulateOptions) (refs []string, out []simDelivery, err error) {
	if o.count < 1 || o.concurrency < 1 || o.dups < 1 {
		return nil, nil, fmt.Errorf("--count, --concurrency and --duplicates must be at least 1")
	}
	batch := batchers[src.Provider]
	if o.batch && batch == nil {
		return nil, nil, fmt.Errorf("--batch: %s sends one event per request; only %s batch", src.Provider, strings.Join(mapKeys(batchers), ", "))
	}
	if len(types) == 0 {
		types = a.SampleTypes()[:1]
		if o.shuffle || o.batch {
			types = a.Flow()
		}
	}
	shuffle := rand.Shuffle
	if o.rand != nil {
		shuffle = o.rand.Shuffle
	}
	// Order refs are numeric, as Shopify, WooCommerce and BigCommerce order ids must be:
	// a random 6-digit run number, then the flow's number, zero-padded to one width.
	run := rand.Int64N(900_000) + 100_000
	if o.rand != nil {
		run = o.rand.Int64N(900_000) + 100_000
	}
	width := len(strconv.Itoa(o.count))
	for i := range o.count {
		so := o.sample
		if so.OrderRef == "" {
			so.OrderRef = fmt.Sprintf("%d%0*d", run, width, i+1)
		}
		refs = append(refs, so.OrderRef)
		var flow []simDelivery
		for j, typ := range types {
			so.EventID = fmt.Sprintf("evt_sim_%d_%d_%d", run, i+1, j+1)
			so.Now = time.Now()
			req, err := a.Sample(src, typ, so)
			if err != nil {
				return nil, nil, err
			}
			flow = append(flow, simDelivery{typ: typ, req: req, opts: so})
		}
		if o.shuffle {
			shuffle(len(flow), func(x, y int) { flow[x], flow[y] = flow[y], flow[x] })
		}
		if o.batch {
			reqs := make([]webhook.Request, len(flow))
			typs := make([]string, len(flow))
			for k, d := range flow {
				reqs[k], typs[k] = d.req, d.typ
			}
			req, err := batch(reqs)
			if err != nil {
				return nil, nil, err
			}
			flow = []simDelivery{{typ: "batch(" + strings.Join(typs, ",") + ")", req: req, opts: flow[len(flow)-1].opts}}
		}
		var sent []simDelivery
		for k, d := range flow {
			d.seq = len(out) + k
			for range o.dups {
				sent = append(sent, d)
			}
		}
		if o.shuffle && o.dups > 1 {
			// Retries arrive in any order too, not only right after the first copy.
			shuffle(len(sent), func(x, y int) { sent[x], sent[y] = sent[y], sent[x] })
		}
		seen := map[int]bool{}
		for k := range sent {
			sent[k].dup = seen[sent[k].seq]
			seen[sent[k].seq] = true
		}
		out = append(out, sent...)
	}
	return refs, out, nil
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// simulate plans a run, makes the provider API answer for it where the provider needs
// one, sends it and returns the answers. It is `tradewind simulate` without the printing.
func simulate(ctx context.Context, stderr io.Writer, kind string, types []string, o simulateOptions) (simReport, error) {
	var r simReport
	a, ok := registry.Lookup(kind)
	if !ok {
		return r, fmt.Errorf("unknown provider %q; use one of: %s", kind, strings.Join(registry.Kinds(), ", "))
	}
	src, err := simSource(kind, o)
	if err != nil {
		return r, err
	}
	r.src = src
	if r.refs, r.sent, err = planSimulation(a, src, types, o); err != nil {
		return r, err
	}
	r.url = o.url
	if r.url == "" {
		listen, _ := osEnv("TRADEWIND_LISTEN")
		if listen == "" {
			listen = "127.0.0.1:8080"
		}
		r.url = "http://" + listen + "/webhooks/" + src.ID
	}

	link, err := attachCounterpart(ctx, src, r.url, stderr)
	if err != nil {
		return r, err
	}
	defer link.close()
	if !o.unconfirmed {
		for _, d := range r.sent {
			if d.dup {
				continue
			}
			if err := link.prepare(ctx, d); err != nil {
				return r, err
			}
		}
	}

	r.answers = send(ctx, stderr, r.url, r.sent, o.concurrency)

	fresh := 0
	for _, ans := range r.answers {
		if ans.accepted() {
			fresh++
		}
	}
	if err := link.wait(ctx, fresh, o.wait); err != nil {
		return r, err
	}
	return r, nil
}

func runSimulate(ctx context.Context, stdout, stderr io.Writer, kind string, types []string, o simulateOptions) error {
	r, err := simulate(ctx, stderr, kind, types, o)
	if err != nil {
		return err
	}
	byStatus := map[string]int{}
	bad, firstBad := 0, ""
	for i, ans := range r.answers {
		byStatus[ans.status]++
		if !strings.HasPrefix(ans.status, "2") {
			if bad == 0 {
				firstBad = fmt.Sprintf("%s %s: %s", r.sent[i].typ, ans.status, strings.TrimSpace(ans.body))
			}
			bad++
		}
	}
	keys := mapKeys(byStatus)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", byStatus[k], k)
	}
	fmt.Fprintf(stdout, "sent %d %s webhook(s) to %s: %s\n", len(r.sent), kind, r.url, strings.Join(parts, ", "))
	switch {
	case len(r.refs) == 1:
		fmt.Fprintf(stdout, "order: %s\n", r.refs[0])
	case len(r.refs) > 1 && o.sample.OrderRef == "":
		fmt.Fprintf(stdout, "orders: %s … %s\n", r.refs[0], r.refs[len(r.refs)-1])
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d requests were not accepted; first: %s", bad, len(r.sent), firstBad)
	}
	return nil
}

// send posts every delivery, concurrency at a time, and returns the answers in order.
func send(ctx context.Context, stderr io.Writer, url string, ds []simDelivery, concurrency int) []simAnswer {
	var bar *progressbar.ProgressBar
	if len(ds) >= 10 {
		bar = progressbar.NewOptions(len(ds), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("sending"), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond))
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	defer client.CloseIdleConnections()
	answers := make([]simAnswer, len(ds))
	next := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				answers[i] = post1(ctx, client, url, ds[i].req)
				if bar != nil {
					_ = bar.Add(1)
				}
			}
		}()
	}
	for i := range ds {
		next <- i
	}
	close(next)
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
	return answers
}

func post1(ctx context.Context, client *http.Client, url string, r webhook.Request) simAnswer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.Body))
	if err != nil {
		return simAnswer{"error", err.Error()}
	}
	req.Header = r.Header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return simAnswer{"error", err.Error()}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return simAnswer{strconv.Itoa(resp.StatusCode), string(body)}
}

// A counterpart is a fake of the provider API the worker calls to confirm or complete
// a provider's webhooks: PowerTranz's and PlugnPay's confirmation APIs, BigCommerce's
// store API. simulate serves one on the loopback address of a source's api_base_url.
type counterpart interface {
	http.Handler
	// prepare makes the fake answer for a delivery simulate built: approve the
	// callback, put the order or variant into the store.
	prepare(body []byte, o webhook.SampleOptions) error
	// served counts the calls that confirmed or completed a delivery (one per Fetch).
	served() int
	// requireCredentials makes the fake refuse other credentials than src's.
	requireCredentials(src domain.Source)
}

// counterparts are the fakes, by provider kind.
var counterparts = map[string]func() counterpart{
	powertranz.Kind:  func() counterpart { return powertranzFake{powertranz.NewFakeGateway()} },
	plugnpay.Kind:    func() counterpart { return plugnpayFake{plugnpay.NewFakeGateway()} },
	bigcommerce.Kind: func() counterpart { return bigcommerceFake{bigcommerce.NewFakeStore()} },
}

type powertranzFake struct{ *powertranz.FakeGateway }

func (f powertranzFake) prepare(body []byte, _ webhook.SampleOptions) error {
	return f.ApproveCallback(body)
}
func (f powertranzFake) served() int { return f.Calls() }
func (f powertranzFake) requireCredentials(src domain.Source) {
	f.RequireCredentials(src.Settings[powertranz.SettingID], src.Setting(powertranz.SettingPassword, firstSecret(src)))
}

type plugnpayFake struct{ *plugnpay.FakeGateway }

func (f plugnpayFake) prepare(body []byte, _ webhook.SampleOptions) error {
	return f.ApproveCallback(body)
}
func (f plugnpayFake) served() int { return f.Calls() }
func (f plugnpayFake) requireCredentials(src domain.Source) {
	f.RequireCredentials(src.Settings[plugnpay.SettingPublisherName], src.Setting(plugnpay.SettingPublisherPassword, firstSecret(src)))
}

type bigcommerceFake struct{ *bigcommerce.FakeStore }

func (f bigcommerceFake) prepare(body []byte, o webhook.SampleOptions) error {
	return f.AddSample(body, o)
}
func (f bigcommerceFake) served() int { return f.Served() }
func (f bigcommerceFake) requireCredentials(src domain.Source) {
	f.RequireCredentials(src.Settings["store_hash"], src.Settings["access_token"])
}

func firstSecret(src domain.Source) string {
	if len(src.Secrets) > 0 {
		return src.Secrets[0]
	}
	return ""
}

// prepareRoute is where a fake served by `simulate --serve` takes deliveries to prepare
// for from another simulate process. Real provider APIs have no such path.
const prepareRoute = "/_tradewind/simulate/prepare"

// prepareRequest is the body of a POST to prepareRoute.
type prepareRequest struct {
	Body    []byte                `json:"body"`
	Options webhook.SampleOptions `json:"options"`
}

// counterpartHandler serves cp and, on prepareRoute, prepares it for deliveries that
// another simulate process sends. Each request is logged to log when it is not nil.
func counterpartHandler(kind string, cp counterpart, log io.Writer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+prepareRoute, func(w http.ResponseWriter, r *http.Request) {
		var p prepareRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&p); err != nil {
			http.Error(w, "body must be {body, options}: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := cp.prepare(p.Body, p.Options); err != nil {
			http.Error(w, domain.ErrorMessage(err), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/", cp)
	if log == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, r)
		fmt.Fprintf(log, "%s fake: %s %s → %d\n", kind, r.Method, r.URL.RequestURI(), rec.status)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// loopbackAddr returns the host:port of a loopback http(s) URL.
func loopbackAddr(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return "", false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(host, port), true
}

// localURL reports whether a URL names this machine: a loopback or unspecified
// (0.0.0.0, what TRADEWIND_LISTEN often is in a container) address, or localhost.
func localURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return u.Hostname() == "localhost" || (ip != nil && (ip.IsLoopback() || ip.IsUnspecified()))
}

// counterpartLink is how one simulate run reaches the fake API of its source: served by
// itself (cp, srv), by a `simulate --serve` elsewhere (remote), or not at all.
type counterpartLink struct {
	kind   string
	addr   string
	cp     counterpart
	srv    *http.Server
	served chan error
	remote string
}

// attachCounterpart links a run to the fake API of src, if src's provider needs one and
// both its api_base_url and the Tradewind at target are on loopback (a Tradewind
// elsewhere could not reach a fake here): it serves a fresh fake there when the port is
// free, else it will register the deliveries with the `simulate --serve` listening there.
func attachCounterpart(ctx context.Context, src domain.Source, target string, stderr io.Writer) (*counterpartLink, error) {
	l := &counterpartLink{kind: src.Provider}
	newFake, ok := counterparts[src.Provider]
	if !ok {
		return l, nil
	}
	if !localURL(target) {
		return l, nil
	}
	base := src.Settings["api_base_url"]
	addr, ok := loopbackAddr(base)
	if !ok {
		fmt.Fprintf(stderr, "note: %s's api_base_url %q is not on loopback, so no fake %s API is served; the provider's own API decides what the simulated deliveries become\n",
			src.ID, base, src.Provider)
		return l, nil
	}
	l.addr = addr
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		// Taken: by `simulate --serve`, we hope; prepare finds out.
		l.remote = strings.TrimRight(base, "/")
		if u, err := url.Parse(base); err == nil {
			l.remote = u.Scheme + "://" + u.Host
		}
		return l, nil
	}
	l.cp = newFake()
	l.cp.requireCredentials(src)
	l.srv = &http.Server{Handler: counterpartHandler(src.Provider, l.cp, nil), ReadHeaderTimeout: 10 * time.Second}
	l.served = make(chan error, 1)
	go func() { l.served <- l.srv.Serve(ln) }()
	return l, nil
}

// prepare makes the fake answer for d.
func (l *counterpartLink) prepare(ctx context.Context, d simDelivery) error {
	switch {
	case l.cp != nil:
		return l.cp.prepare(d.req.Body, d.opts)
	case l.remote == "":
		return nil
	}
	body, err := json.Marshal(prepareRequest{Body: d.req.Body, Options: d.opts})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.remote+prepareRoute, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s is taken but does not answer (%v); stop what listens there, or run `tradewind simulate --serve` there", l.addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s is taken by something that is not `tradewind simulate --serve` (POST %s answered %d %s); stop it, or change api_base_url",
			l.addr, prepareRoute, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// wait keeps serving until the worker has called the fake n times, or timeout passes.
// With a remote fake or none there is nothing to wait for.
func (l *counterpartLink) wait(ctx context.Context, n int, timeout time.Duration) error {
	if l.cp == nil || n == 0 {
		return nil
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for l.cp.served() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-l.served:
			return fmt.Errorf("the fake %s API on %s stopped: %w", l.kind, l.addr, err)
		case <-deadline.C:
			return fmt.Errorf("the fake %s API on %s was called for %d of %d deliveries within %s; is the worker running (`tradewind all` or `work`), and does the source's api_base_url name %s? Or run `tradewind simulate --serve` in another terminal and send again",
				l.kind, l.addr, l.cp.served(), n, timeout, l.addr)
		case <-tick.C:
		}
	}
	return nil
}

func (l *counterpartLink) close() {
	if l.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.srv.Shutdown(ctx) // lets the answer to the last call finish
}

// runServe is `tradewind simulate --serve [provider ...]`: it serves the fake API of every
// source (of the named providers) with a loopback api_base_url until ctx ends.
func runServe(ctx context.Context, stderr io.Writer, kinds []string, o simulateOptions) error {
	for _, k := range kinds {
		if _, ok := counterparts[k]; !ok {
			return fmt.Errorf("--serve: %s needs no fake API; only %s do", k, strings.Join(mapKeys(counterparts), ", "))
		}
	}
	path := sourcesPath(o)
	if path == "" {
		return fmt.Errorf("--serve: no sources file; pass --sources-file or set TRADEWIND_SOURCES_FILE")
	}
	sources, err := LoadSources(path, osEnv)
	if err != nil {
		return err
	}
	type fake struct {
		kind    string
		sources []domain.Source
	}
	byAddr := map[string]*fake{}
	for _, id := range mapKeys(sources) {
		src := sources[id]
		if _, ok := counterparts[src.Provider]; !ok || (len(kinds) > 0 && !slices.Contains(kinds, src.Provider)) {
			continue
		}
		addr, ok := loopbackAddr(src.Settings["api_base_url"])
		if !ok {
			continue
		}
		f := byAddr[addr]
		if f == nil {
			f = &fake{kind: src.Provider}
			byAddr[addr] = f
		}
		if f.kind != src.Provider {
			return fmt.Errorf("--serve: %s is the api_base_url of both a %s and a %s source; give each provider its own port", addr, f.kind, src.Provider)
		}
		f.sources = append(f.sources, src)
	}
	if len(byAddr) == 0 {
		return fmt.Errorf("--serve: no %s source in %s has an api_base_url on loopback; nothing to serve", strings.Join(mapKeys(counterparts), ", "), path)
	}

	var (
		servers []*http.Server
		failed  = make(chan error, len(byAddr))
	)
	defer func() {
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(shutCtx)
		}
	}()
	for _, addr := range mapKeys(byAddr) {
		f := byAddr[addr]
		cp := counterparts[f.kind]()
		ids := make([]string, len(f.sources))
		for i, s := range f.sources {
			ids[i] = s.ID
		}
		if len(f.sources) == 1 {
			cp.requireCredentials(f.sources[0])
		}
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("--serve: the fake %s API for %s: %w", f.kind, strings.Join(ids, ", "), err)
		}
		srv := &http.Server{Handler: counterpartHandler(f.kind, cp, stderr), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); err != http.ErrServerClosed {
				failed <- fmt.Errorf("the fake %s API on %s: %w", f.kind, addr, err)
			}
		}()
		fmt.Fprintf(stderr, "serving the fake %s API for %s on http://%s\n", f.kind, strings.Join(ids, ", "), addr)
	}
	fmt.Fprintln(stderr, "`tradewind simulate <provider>` in another terminal registers its deliveries here; Ctrl-C stops")
	select {
	case <-ctx.Done():
		return nil
	case err := <-failed:
		return err
	}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}
