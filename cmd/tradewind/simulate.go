package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

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
	sample                   webhook.SampleOptions
}

func newSimulateCommand(stdout, stderr io.Writer) *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate <provider> [event-type ...]",
		Short: "Send correctly signed sample webhooks of a provider to a URL, like the provider's own CLI",
		Long: `Send correctly signed sample webhooks of a provider to a Tradewind URL.

With no event type, the provider's most common one is sent; with --shuffle and no
event type, the provider's whole order flow is sent in random order. The secret and
settings come from --secret/--setting, or else from the source's entry in the
sources file (--source, default demo-<provider>).`,
		Example: `  tradewind simulate stripe payment_intent.succeeded --order-ref 1001
  tradewind simulate stripe --shuffle --count 100 --concurrency 8 --duplicates 3
  tradewind simulate stripe charge.refunded --url https://tw.example.com/webhooks/acme-stripe --secret whsec_…`,
		Args: cobra.MinimumNArgs(1),
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
			return runSimulate(cmd.Context(), stdout, stderr, args[0], args[1:], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "webhook URL (default http://$TRADEWIND_LISTEN/webhooks/<source>)")
	f.StringVar(&o.source, "source", "", "source id to send to and read the secret from (default demo-<provider>)")
	f.StringVar(&o.sourcesFile, "sources-file", "", "sources file to read the secret and settings from (default $TRADEWIND_SOURCES_FILE, else examples/sources.yaml)")
	f.StringArrayVar(&o.secrets, "secret", nil, "signing secret (overrides the sources file)")
	f.StringToStringVar(&o.settings, "setting", nil, "provider setting key=value (overrides the sources file), e.g. notification_url=…")
	f.IntVar(&o.count, "count", 1, "number of distinct events (or order flows with --shuffle)")
	f.IntVar(&o.concurrency, "concurrency", 1, "requests in flight at once")
	f.IntVar(&o.dups, "duplicates", 1, "send each event this many times, as a provider's retries would")
	f.BoolVar(&o.shuffle, "shuffle", false, "deliver each order's related events in random order")
	f.StringVar(&o.sample.OrderRef, "order-ref", "", "storefront order id the events name (default: a new one per event or flow)")
	f.StringVar(&o.sample.SKU, "sku", "", "SKU for order lines and stock events")
	f.Int64Var(&o.sample.Quantity, "quantity", 0, "units per order line")
	f.Int64Var(&o.sample.Amount, "amount", 0, "amount in minor units (e.g. 2500 for 25.00 USD)")
	f.StringVar(&o.sample.Currency, "currency", "", "ISO 4217 currency (default USD)")
	return cmd
}

// simSource resolves the source to sign for: flags first, then the sources file.
func simSource(kind string, o simulateOptions) (domain.Source, error) {
	id := o.source
	if id == "" {
		id = "demo-" + kind
	}
	src := domain.Source{ID: id, Provider: kind, Settings: map[string]string{}}
	path := o.sourcesFile
	if path == "" {
		path, _ = osEnv("TRADEWIND_SOURCES_FILE")
	}
	if path == "" {
		if _, err := os.Stat("examples/sources.yaml"); err == nil {
			path = "examples/sources.yaml"
		}
	}
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
	for k, v := range o.settings {
		src.Settings[k] = v
	}
	return src, nil
}

type simDelivery struct {
	typ string
	req webhook.Request
}

func runSimulate(ctx context.Context, stdout, stderr io.Writer, kind string, types []string, o simulateOptions) error {
	a, ok := registry.Lookup(kind)
	if !ok {
		return fmt.Errorf("unknown provider %q; use one of: %s", kind, strings.Join(registry.Kinds(), ", "))
	}
	if o.count < 1 || o.concurrency < 1 || o.dups < 1 {
		return fmt.Errorf("--count, --concurrency and --duplicates must be at least 1")
	}
	if len(types) == 0 {
		types = a.SampleTypes()[:1]
		if o.shuffle {
			types = a.Flow()
		}
	}
	src, err := simSource(kind, o)
	if err != nil {
		return err
	}
	url := o.url
	if url == "" {
		listen, _ := osEnv("TRADEWIND_LISTEN")
		if listen == "" {
			listen = "127.0.0.1:8080"
		}
		url = "http://" + listen + "/webhooks/" + src.ID
	}

	// Build every delivery first so that signing errors surface before anything is sent.
	run := randomHex(4)
	var batch []simDelivery
	for i := range o.count {
		so := o.sample
		if so.OrderRef == "" {
			so.OrderRef = fmt.Sprintf("sim-%s-%d", run, i+1)
		}
		var flow []simDelivery
		for j, typ := range types {
			so.EventID = fmt.Sprintf("evt_sim_%s_%d_%d", run, i+1, j+1)
			so.Now = time.Now()
			req, err := a.Sample(src, typ, so)
			if err != nil {
				return err
			}
			for range o.dups {
				flow = append(flow, simDelivery{typ: typ, req: req})
			}
		}
		if o.shuffle {
			rand.Shuffle(len(flow), func(x, y int) { flow[x], flow[y] = flow[y], flow[x] })
		}
		batch = append(batch, flow...)
	}

	var bar *progressbar.ProgressBar
	if len(batch) >= 10 {
		bar = progressbar.NewOptions(len(batch), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("sending"), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond))
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency}}
	var (
		mu       sync.Mutex
		byStatus = map[string]int{}
		firstBad string
		wg       sync.WaitGroup
		next     = make(chan simDelivery)
	)
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range next {
				status, body := send(ctx, client, url, d.req)
				mu.Lock()
				byStatus[status]++
				if !strings.HasPrefix(status, "2") && firstBad == "" {
					firstBad = fmt.Sprintf("%s %s: %s", d.typ, status, strings.TrimSpace(body))
				}
				mu.Unlock()
				if bar != nil {
					_ = bar.Add(1)
				}
			}
		}()
	}
	for _, d := range batch {
		next <- d
	}
	close(next)
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}

	keys := make([]string, 0, len(byStatus))
	for k := range byStatus {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	bad := 0
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", byStatus[k], k)
		if !strings.HasPrefix(k, "2") {
			bad += byStatus[k]
		}
	}
	fmt.Fprintf(stdout, "sent %d %s webhook(s) to %s: %s\n", len(batch), kind, url, strings.Join(parts, ", "))
	if o.sample.OrderRef != "" {
		fmt.Fprintf(stdout, "order: %s\n", o.sample.OrderRef)
	} else if o.count == 1 {
		fmt.Fprintf(stdout, "order: sim-%s-1\n", run)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d requests were not accepted; first: %s", bad, len(batch), firstBad)
	}
	return nil
}

func send(ctx context.Context, client *http.Client, url string, r webhook.Request) (string, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.Body))
	if err != nil {
		return "error", err.Error()
	}
	req.Header = r.Header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return "error", err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return fmt.Sprint(resp.StatusCode), string(body)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}
