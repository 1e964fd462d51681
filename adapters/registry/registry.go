// Package registry lists every provider adapter. Adding a provider is adding its
// package and one line here; the ingress, the worker and `tradewind simulate` know
// providers only through this list.
package registry

import (
	"sort"

	"github.com/tradewind/tradewind/adapters/adyen"
	"github.com/tradewind/tradewind/adapters/bigcommerce"
	"github.com/tradewind/tradewind/adapters/fygaro"
	"github.com/tradewind/tradewind/adapters/hmac"
	"github.com/tradewind/tradewind/adapters/paypal"
	"github.com/tradewind/tradewind/adapters/plugnpay"
	"github.com/tradewind/tradewind/adapters/powertranz"
	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/square"
	"github.com/tradewind/tradewind/adapters/standardwebhooks"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/woocommerce"
	"github.com/tradewind/tradewind/domain"
)

// Adapter is a provider that can also simulate its own webhooks. An adapter may
// have optional capabilities, found by type assertion: domain.Fetcher (the worker
// completes its webhooks through its API), domain.Acknowledger (a fixed answer
// body), webhook.Batcher (`simulate --batch`) and webhook.FakeAPISimulator (a fake
// of its API that `tradewind simulate` serves). Each lives in the adapter's package,
// so adding a provider is its package and one line below, and nothing in cmd.
type Adapter interface {
	domain.Provider
	webhook.Simulator
}

// newAdapters returns one adapter of each provider; an adapter with state of its
// own (PayPal's certificate and token caches) is new.
func newAdapters() map[string]Adapter {
	return map[string]Adapter{
		stripe.Kind: stripe.Provider{},

		// Storefronts and the generic Standard Webhooks format.
		standardwebhooks.Kind: standardwebhooks.Provider{},
		bigcommerce.Kind:      bigcommerce.Provider{},
		shopify.Kind:          shopify.Provider{},
		woocommerce.Kind:      woocommerce.Provider{},

		// Payment gateways and the generic HMAC source.
		adyen.Kind:      adyen.Provider{},
		fygaro.Kind:     fygaro.Provider{},
		hmac.Kind:       hmac.Provider{},
		paypal.Kind:     paypal.New(paypal.Options{}),
		plugnpay.Kind:   plugnpay.Provider{},
		powertranz.Kind: powertranz.Provider{},
		square.Kind:     square.Provider{},
	}
}

// adapters answer Lookup, Kinds and KindsWith: what a kind is and can do, for
// checking a sources file and for `tradewind simulate`. A running ingress and
// worker use a Registry of their own, made by New.
var adapters = newAdapters()

// Registry is a set of provider adapters with their own state. It implements
// domain.ProviderRegistry for the ingress and the worker.
type Registry struct {
	adapters map[string]Adapter
}

var _ domain.ProviderRegistry = (*Registry)(nil)

// New returns a Registry of every provider; Main makes one and hands it to the
// ingress and the worker, so PayPal's caches are the process's, not the package's.
func New() *Registry { return &Registry{adapters: newAdapters()} }

// Provider implements domain.ProviderRegistry.
func (r *Registry) Provider(kind string) (domain.Provider, bool) {
	a, ok := r.adapters[kind]
	return a, ok
}

// gateways are the payment gateways: their webhooks are applied before
// storefronts' when workers are behind.
var gateways = map[string]bool{
	stripe.Kind: true, adyen.Kind: true, fygaro.Kind: true, paypal.Kind: true,
	plugnpay.Kind: true, powertranz.Kind: true, square.Kind: true,
}

// IsGateway reports whether a provider kind is a payment gateway.
func IsGateway(kind string) bool { return gateways[kind] }

// Lookup returns the adapter for a provider kind.
func Lookup(kind string) (Adapter, bool) {
	a, ok := adapters[kind]
	return a, ok
}

// Kinds returns the known provider kinds, sorted.
func Kinds() []string {
	out := make([]string, 0, len(adapters))
	for k := range adapters {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// KindsWith returns the known provider kinds whose adapter has the capability has
// tests for, sorted; e.g. KindsWith(func(a Adapter) bool { _, ok := a.(webhook.Batcher); return ok }).
func KindsWith(has func(Adapter) bool) []string {
	var out []string
	for _, k := range Kinds() {
		if has(adapters[k]) {
			out = append(out, k)
		}
	}
	return out
}
