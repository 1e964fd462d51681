// Package simulate is `tradewind simulate`: it sends correctly signed sample webhooks
// of any provider to a Tradewind, like a provider's own CLI, and serves the fakes of
// the provider APIs the worker calls to confirm or complete them. It knows providers
// only through adapters/registry: each adapter's Simulator builds its deliveries, and
// its optional webhook.Batcher and webhook.FakeAPISimulator batch them and fake its API.
//
// It lives in internal/ because it is a tool of the binary, not part of the service:
// nothing in the service imports it, and cmd/tradewind only maps flags onto Options.
package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/progress"
)

// Options shape a run of `tradewind simulate`. Count, Concurrency and Duplicates
// must be at least 1.
type Options struct {
	URL         string            // webhook URL; default http://<Listen>/webhooks/<source>
	Listen      string            // where Tradewind listens (TRADEWIND_LISTEN), for the default URL
	Source      string            // source id to send to and read the secret from (default demo-<provider>)
	SourcesFile string            // sources file to read the secret and settings from; "" for none
	Secrets     []string          // signing secrets (override the sources file)
	Settings    map[string]string // provider settings (override the sources file)
	Count       int               // distinct events (or order flows with Shuffle/Batch)
	Concurrency int               // requests in flight at once
	Duplicates  int               // deliveries of each event, as a provider's retries would
	Shuffle     bool              // deliver each order's related events in random order
	Batch       bool              // one delivery per flow, for providers that batch (webhook.Batcher)
	Unconfirmed bool              // do not tell the fake gateway/store about the deliveries
	// WaitTimeout bounds each wait: for the worker to call a fake API, and with Wait
	// for the orders to be applied. 0 means 30s.
	WaitTimeout time.Duration
	// Wait, after sending, waits until every order the run named is applied and
	// prints each as GET /api/v1/orders/{ref} shows it (Await), asking the
	// Tradewind the webhooks went to with APIToken.
	Wait     bool
	APIToken string
	Sample   webhook.SampleOptions
	Rand     *rand.Rand // nil: the global source; tests pin a seed

	// LoadSources reads a sources file as `tradewind all` does.
	LoadSources func(path string) (map[string]domain.Source, error)
}

// TypesHelp lists every provider's simulated event types and flow, for --help.
func TypesHelp() string {
	var b strings.Builder
	for _, k := range registry.Kinds() {
		a, _ := registry.Lookup(k)
		fmt.Fprintf(&b, "  %s: %s\n    flow: %s\n", k, strings.Join(a.SampleTypes(), " "), strings.Join(a.Flow(), " → "))
	}
	return b.String()
}

// List is `tradewind simulate` with no arguments: every provider it can send as,
// with the ids of its sources in the sources file (the --source to pick) and its
// sample event types, the default first.
func List(w io.Writer, o Options) error {
	var (
		byKind = map[string][]string{}
		note   string
	)
	switch {
	case o.SourcesFile == "":
		note = "No sources file (--sources-file, $TRADEWIND_SOURCES_FILE or examples/sources.yaml): pass --secret to send."
	default:
		sources, err := o.loadSources()
		if err != nil {
			note = fmt.Sprintf("The sources file %s does not load (%v): pass --secret to send.", o.SourcesFile, err)
			break
		}
		for _, id := range mapKeys(sources) {
			byKind[sources[id].Provider] = append(byKind[sources[id].Provider], id)
		}
		note = "Sources from " + o.SourcesFile + "; it sends to demo-<provider> unless --source names another."
	}
	fmt.Fprintln(w, "Usage: tradewind simulate <provider> [event-type ...]   (tradewind simulate --help for the flags)")
	fmt.Fprintln(w, note)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "provider\tsources\tevent types (the first is the default)")
	for _, k := range registry.Kinds() {
		a, _ := registry.Lookup(k)
		ids := strings.Join(byKind[k], ", ")
		if ids == "" {
			ids = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k, ids, strings.Join(a.SampleTypes(), " "))
	}
	return tw.Flush()
}

func (o Options) loadSources() (map[string]domain.Source, error) {
	if o.LoadSources == nil {
		return nil, fmt.Errorf("simulate: Options.LoadSources is not set")
	}
	return o.LoadSources(o.SourcesFile)
}

// ResolveSource resolves the source to sign for: o's secrets and settings first, then
// the sources file.
func ResolveSource(kind string, o Options) (domain.Source, error) {
	id := o.Source
	if id == "" {
		id = "demo-" + kind
	}
	src := domain.Source{ID: id, Provider: kind, Settings: map[string]string{}}
	path := o.SourcesFile
	if path != "" && (len(o.Secrets) == 0 || o.Source != "") {
		sources, err := o.loadSources()
		if err != nil {
			return src, err
		}
		if s, ok := sources[id]; ok {
			if s.Provider != kind {
				return src, fmt.Errorf("--source %s is a %s source, not %s", id, s.Provider, kind)
			}
			src = s
		} else if len(o.Secrets) == 0 {
			return src, fmt.Errorf("source %q is not in %s; pass --source with one of its %s sources, or --secret", id, path, kind)
		}
	}
	if len(o.Secrets) > 0 {
		src.Secrets = o.Secrets
	}
	if len(o.Settings) > 0 {
		settings := make(map[string]string, len(src.Settings)+len(o.Settings))
		for k, v := range src.Settings {
			settings[k] = v
		}
		for k, v := range o.Settings {
			settings[k] = v
		}
		src.Settings = settings
	}
	return src, nil
}

// Delivery is one request simulate sends.
type Delivery struct {
	Type    string                // the event type, or "batch(A,B,…)"
	Request webhook.Request       // as signed
	Options webhook.SampleOptions // what Sample built it from (a batch: its flow's last event)
	Seq     int                   // which distinct delivery of the run it is
	Dup     bool                  // a repeat of one sent earlier
}

// Answer is how Tradewind answered one delivery.
type Answer struct {
	Status string // the HTTP status code, or "error"
	Body   string
}

// Accepted reports whether the answer stored something new: a 2xx whose JSON status
// is "accepted". (Adyen's "[accepted]" does not tell; no fake API waits on Adyen.)
func (a Answer) Accepted() bool {
	var b struct {
		Status string `json:"status"`
	}
	return strings.HasPrefix(a.Status, "2") && json.Unmarshal([]byte(a.Body), &b) == nil && b.Status == "accepted"
}

// Report is what one simulate run sent and how it was answered.
type Report struct {
	Source  domain.Source
	URL     string
	Refs    []string   // the order ref of each flow, in order
	Sent    []Delivery // in sending order
	Answers []Answer   // Answers[i] answers Sent[i]
}

func isBatcher(a registry.Adapter) bool { _, ok := a.(webhook.Batcher); return ok }

func hasFakeAPI(a registry.Adapter) bool { _, ok := a.(webhook.FakeAPISimulator); return ok }

// Plan builds every delivery of a run, signed for src, before anything is sent,
// so that signing errors surface first.
func Plan(a registry.Adapter, src domain.Source, types []string, o Options) (refs []string, out []Delivery, err error) {
	if o.Count < 1 || o.Concurrency < 1 || o.Duplicates < 1 {
		return nil, nil, fmt.Errorf("--count, --concurrency and --duplicates must be at least 1")
	}
	batcher, _ := a.(webhook.Batcher)
	if o.Batch && batcher == nil {
		return nil, nil, fmt.Errorf("--batch: %s sends one event per request; only %s batch", src.Provider, strings.Join(registry.KindsWith(isBatcher), ", "))
	}
	if len(types) == 0 {
		types = a.SampleTypes()[:1]
		if o.Shuffle || o.Batch {
			types = a.Flow()
		}
	}
	shuffle := rand.Shuffle
	if o.Rand != nil {
		shuffle = o.Rand.Shuffle
	}
	// Order refs are numeric, as Shopify, WooCommerce and BigCommerce order ids must be:
	// a random 6-digit run number, then the flow's number, zero-padded to one width.
	run := rand.Int64N(900_000) + 100_000
	if o.Rand != nil {
		run = o.Rand.Int64N(900_000) + 100_000
	}
	width := len(strconv.Itoa(o.Count))
	for i := range o.Count {
		so := o.Sample
		if so.OrderRef == "" {
			so.OrderRef = fmt.Sprintf("%d%0*d", run, width, i+1)
		}
		refs = append(refs, so.OrderRef)
		var flow []Delivery
		for j, typ := range types {
			so.EventID = fmt.Sprintf("evt_sim_%d_%d_%d", run, i+1, j+1)
			so.Now = time.Now()
			req, err := a.Sample(src, typ, so)
			if err != nil {
				return nil, nil, err
			}
			flow = append(flow, Delivery{Type: typ, Request: req, Options: so})
		}
		if o.Shuffle {
			shuffle(len(flow), func(x, y int) { flow[x], flow[y] = flow[y], flow[x] })
		}
		if o.Batch {
			reqs := make([]webhook.Request, len(flow))
			typs := make([]string, len(flow))
			for k, d := range flow {
				reqs[k], typs[k] = d.Request, d.Type
			}
			req, err := batcher.Batch(reqs)
			if err != nil {
				return nil, nil, err
			}
			flow = []Delivery{{Type: "batch(" + strings.Join(typs, ",") + ")", Request: req, Options: flow[len(flow)-1].Options}}
		}
		var sent []Delivery
		for k, d := range flow {
			d.Seq = len(out) + k
			for range o.Duplicates {
				sent = append(sent, d)
			}
		}
		if o.Shuffle && o.Duplicates > 1 {
			// Retries arrive in any order too, not only right after the first copy.
			shuffle(len(sent), func(x, y int) { sent[x], sent[y] = sent[y], sent[x] })
		}
		seen := map[int]bool{}
		for k := range sent {
			sent[k].Dup = seen[sent[k].Seq]
			seen[sent[k].Seq] = true
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

// Send plans a run, makes the provider API answer for it where the provider needs
// one, sends it and returns the answers. It is `tradewind simulate` without the printing.
func Send(ctx context.Context, stderr io.Writer, kind string, types []string, o Options) (Report, error) {
	var r Report
	a, ok := registry.Lookup(kind)
	if !ok {
		return r, fmt.Errorf("unknown provider %q; use one of: %s", kind, strings.Join(registry.Kinds(), ", "))
	}
	src, err := ResolveSource(kind, o)
	if err != nil {
		return r, err
	}
	r.Source = src
	if r.Refs, r.Sent, err = Plan(a, src, types, o); err != nil {
		return r, err
	}
	r.URL = o.URL
	if r.URL == "" {
		listen := o.Listen
		if listen == "" {
			listen = "127.0.0.1:8080"
		}
		r.URL = "http://" + listen + "/webhooks/" + src.ID
	}

	link, err := attachCounterpart(ctx, a, src, r.URL, stderr)
	if err != nil {
		return r, err
	}
	defer link.close()
	if !o.Unconfirmed {
		for _, d := range r.Sent {
			if d.Dup {
				continue
			}
			if err := link.prepare(ctx, d); err != nil {
				return r, err
			}
		}
	}

	r.Answers = postAll(ctx, stderr, r.URL, r.Sent, o.Concurrency)

	fresh := 0
	for _, ans := range r.Answers {
		if ans.Accepted() {
			fresh++
		}
	}
	if err := link.wait(ctx, fresh, waitTimeout(o)); err != nil {
		return r, err
	}
	return r, nil
}

// Run is `tradewind simulate <provider> [event-type ...]`: Send, then a summary on
// stdout. It fails when a request was not answered 2xx. With o.Wait the summary goes
// to stderr, and stdout has only the applied orders, as indented JSON (Await).
func Run(ctx context.Context, stdout, stderr io.Writer, kind string, types []string, o Options) error {
	r, err := Send(ctx, stderr, kind, types, o)
	if err != nil {
		return err
	}
	summary := stdout
	if o.Wait {
		summary = stderr
	}
	byStatus := map[string]int{}
	bad, firstBad := 0, ""
	for i, ans := range r.Answers {
		byStatus[ans.Status]++
		if !strings.HasPrefix(ans.Status, "2") {
			if bad == 0 {
				firstBad = fmt.Sprintf("%s %s: %s", r.Sent[i].Type, ans.Status, strings.TrimSpace(ans.Body))
			}
			bad++
		}
	}
	keys := mapKeys(byStatus)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", byStatus[k], k)
	}
	fmt.Fprintf(summary, "sent %d %s webhook(s) to %s: %s\n", len(r.Sent), kind, r.URL, strings.Join(parts, ", "))
	switch {
	case len(r.Refs) == 1:
		fmt.Fprintf(summary, "order: %s\n", r.Refs[0])
	case len(r.Refs) > 1 && o.Sample.OrderRef == "":
		fmt.Fprintf(summary, "orders: %s … %s\n", r.Refs[0], r.Refs[len(r.Refs)-1])
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d requests were not accepted; first: %s", bad, len(r.Sent), firstBad)
	}
	if !o.Wait {
		return nil
	}
	n := len(slices.Compact(slices.Sorted(slices.Values(r.Refs))))
	fmt.Fprintf(stderr, "waiting up to %s for Tradewind to apply %s\n", waitTimeout(o), plural(n, "the order", "the orders"))
	orders, err := Await(ctx, r, o)
	for _, ord := range orders {
		var b bytes.Buffer
		if json.Indent(&b, ord.JSON, "", "  ") != nil {
			b.Reset()
			b.Write(ord.JSON)
		}
		fmt.Fprintln(stdout, b.String())
	}
	return err
}

func waitTimeout(o Options) time.Duration {
	if o.WaitTimeout <= 0 {
		return 30 * time.Second
	}
	return o.WaitTimeout
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// postAll posts every delivery, concurrency at a time, and returns the answers in order.
func postAll(ctx context.Context, stderr io.Writer, url string, ds []Delivery, concurrency int) []Answer {
	var bar progress.Bar
	if len(ds) >= 10 {
		bar = progress.New(stderr, int64(len(ds)), progress.Options{Description: "sending", ShowCount: true})
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	defer client.CloseIdleConnections()
	answers := make([]Answer, len(ds))
	next := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				answers[i] = post1(ctx, client, url, ds[i].Request)
				if bar != nil {
					bar.Add(1)
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
		bar.Finish()
	}
	return answers
}

func post1(ctx context.Context, client *http.Client, url string, r webhook.Request) Answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.Body))
	if err != nil {
		return Answer{"error", err.Error()}
	}
	req.Header = r.Header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return Answer{"error", err.Error()}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return Answer{strconv.Itoa(resp.StatusCode), string(body)}
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
func counterpartHandler(kind string, cp webhook.FakeAPI, log io.Writer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+prepareRoute, func(w http.ResponseWriter, r *http.Request) {
		var p prepareRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&p); err != nil {
			http.Error(w, "body must be {body, options}: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := cp.Prepare(p.Body, p.Options); err != nil {
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
	cp     webhook.FakeAPI
	srv    *http.Server
	served chan error
	remote string
}

// attachCounterpart links a run to the fake API of src, if src's provider needs one and
// both its api_base_url and the Tradewind at target are on loopback (a Tradewind
// elsewhere could not reach a fake here): it serves a fresh fake there when the port is
// free, else it will register the deliveries with the `simulate --serve` listening there.
func attachCounterpart(ctx context.Context, a registry.Adapter, src domain.Source, target string, stderr io.Writer) (*counterpartLink, error) {
	l := &counterpartLink{kind: src.Provider}
	fakes, ok := a.(webhook.FakeAPISimulator)
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
	l.cp = fakes.NewFakeAPI()
	l.cp.RequireSource(src)
	l.srv = &http.Server{Handler: counterpartHandler(src.Provider, l.cp, nil), ReadHeaderTimeout: 10 * time.Second}
	l.served = make(chan error, 1)
	go func() { l.served <- l.srv.Serve(ln) }()
	return l, nil
}

// prepare makes the fake answer for d.
func (l *counterpartLink) prepare(ctx context.Context, d Delivery) error {
	switch {
	case l.cp != nil:
		return l.cp.Prepare(d.Request.Body, d.Options)
	case l.remote == "":
		return nil
	}
	body, err := json.Marshal(prepareRequest{Body: d.Request.Body, Options: d.Options})
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
	for l.cp.Served() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-l.served:
			return fmt.Errorf("the fake %s API on %s stopped: %w", l.kind, l.addr, err)
		case <-deadline.C:
			return fmt.Errorf("the fake %s API on %s was called for %d of %d deliveries within %s; is the worker running (`tradewind all` or `work`), and does the source's api_base_url name %s? Or run `tradewind simulate --serve` in another terminal and send again",
				l.kind, l.addr, l.cp.Served(), n, timeout, l.addr)
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

// Serve is `tradewind simulate --serve [provider ...]`: it serves the fake API of every
// source (of the named providers) with a loopback api_base_url until ctx ends.
func Serve(ctx context.Context, stderr io.Writer, kinds []string, o Options) error {
	withFake := registry.KindsWith(hasFakeAPI)
	for _, k := range kinds {
		if !slices.Contains(withFake, k) {
			return fmt.Errorf("--serve: %s needs no fake API; only %s do", k, strings.Join(withFake, ", "))
		}
	}
	path := o.SourcesFile
	if path == "" {
		return fmt.Errorf("--serve: no sources file; pass --sources-file or set TRADEWIND_SOURCES_FILE")
	}
	sources, err := o.loadSources()
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
		if !slices.Contains(withFake, src.Provider) || (len(kinds) > 0 && !slices.Contains(kinds, src.Provider)) {
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
		return fmt.Errorf("--serve: no %s source in %s has an api_base_url on loopback; nothing to serve", strings.Join(withFake, ", "), path)
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
		a, _ := registry.Lookup(f.kind)
		cp := a.(webhook.FakeAPISimulator).NewFakeAPI()
		ids := make([]string, len(f.sources))
		for i, s := range f.sources {
			ids[i] = s.ID
		}
		if len(f.sources) == 1 {
			cp.RequireSource(f.sources[0])
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
