package main

import (
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/simulate"
	"github.com/tradewind/tradewind/internal/sourcesfile"
)

// newSimulateCommand is `tradewind simulate`: its flags, mapped onto simulate.Options.
func newSimulateCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		o     simulate.Options
		serve bool // serve the fake provider APIs until interrupted; send nothing
	)
	cmd := &cobra.Command{
		Use:     "simulate [<provider> [event-type ...]]",
		Short:   "Send correctly signed sample webhooks of a provider to a URL, like the provider's own CLI",
		Long:    simulate.Usage(),
		Example: simulate.Examples,
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
			o.FromEnv(osEnv)
			o.LoadSources = func(path string) (map[string]domain.Source, error) { return sourcesfile.LoadSources(path, osEnv) }
			if serve {
				return simulate.Serve(ctx, stderr, args, o)
			}
			if len(args) == 0 {
				return simulate.List(stdout, o)
			}
			return simulate.Run(ctx, stdout, stderr, args[0], args[1:], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", "", "webhook URL (default http://$TRADEWIND_LISTEN/webhooks/<source>)")
	f.StringVar(&o.Source, "source", "", "source id to send to and read the secret from (default demo-<provider>)")
	f.StringVar(&o.SourcesFile, "sources-file", "", "sources file to read the secret and settings from (default $TRADEWIND_SOURCES_FILE, else examples/sources.yaml)")
	f.StringArrayVar(&o.Secrets, "secret", nil, "signing secret (overrides the sources file)")
	f.StringToStringVar(&o.Settings, "setting", nil, "provider setting key=value (overrides the sources file), e.g. notification_url=…")
	f.IntVar(&o.Count, "count", 1, "number of distinct events (or order flows with --shuffle/--batch)")
	f.IntVar(&o.Concurrency, "concurrency", 1, "requests in flight at once")
	f.IntVar(&o.Duplicates, "duplicates", 1, "send each event this many times, as a provider's retries would")
	f.BoolVar(&o.Shuffle, "shuffle", false, "deliver each order's related events in random order")
	f.BoolVar(&o.Batch, "batch", false, "send each order's events as one batched delivery (adyen)")
	f.BoolVar(&serve, "serve", false, "serve the fake gateway and store APIs of the sources with a loopback api_base_url until Ctrl-C; send nothing")
	f.BoolVar(&o.Unconfirmed, "unconfirmed", false, "do not register the deliveries with the fake gateway or store: they are stored, then rejected (powertranz, plugnpay) or fail (bigcommerce)")
	f.BoolVar(&o.Wait, "wait", false, "after sending, wait until the order is applied and print it as JSON (API token: $TRADEWIND_API_TOKEN, else make run's)")
	f.DurationVar(&o.WaitTimeout, "wait-timeout", 30*time.Second, "how long to wait for the order with --wait, and to keep serving a fake API for the worker to call it")
	f.StringVar(&o.Sample.OrderRef, "order-ref", "", "storefront order id the events name (default: a new numeric one per event or flow)")
	f.StringVar(&o.Sample.SKU, "sku", "", "SKU for order lines and stock events")
	f.Int64Var(&o.Sample.Quantity, "quantity", 0, "units per order line")
	f.Int64Var(&o.Sample.Amount, "amount", 0, "amount in minor units (e.g. 2500 for 25.00 USD)")
	f.StringVar(&o.Sample.Currency, "currency", "", "ISO 4217 currency (default USD; EUR for adyen)")
	return cmd
}
