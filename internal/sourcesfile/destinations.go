package sourcesfile

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tradewind/tradewind/adapters/hubspot"
	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/domain"
)

// destinationsFile is the destinations section of the sources file.
type destinationsFile struct {
	Destinations []map[string]any `yaml:"destinations"`
}

// destinationKeys are the keys every destination may have; kindKeys add each
// kind's own.
var destinationKeys = []string{"id", "kind", "events", "timeout", "rate_limit", "max_attempts", "min_backoff", "max_backoff",
	"breaker_failures", "breaker_cooldown"}

var kindKeys = map[string][]string{
	domain.DestinationWebhook:          {"url", "secrets"},
	domain.DestinationHubSpot:          hubspot.Keys,
	domain.DestinationShopifyInventory: shopify.InventoryPushKeys,
}

// ParseDestinations parses and checks the destinations section of a sources
// file. Errors name the file, the entry and the key, and say what is valid.
func ParseDestinations(path string, raw []byte, getenv func(string) (string, bool)) ([]domain.Destination, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("sources file %s: "+format, append([]any{path}, args...)...)
	}
	var f destinationsFile
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&f); err != nil {
		return nil, fail("destinations: %v", err)
	}
	var out []domain.Destination
	seen := map[string]bool{}
	for i, e := range f.Destinations {
		id, _ := e["id"].(string)
		at := fmt.Sprintf("destinations[%d] (%s)", i, id)
		if !sourceIDPattern.MatchString(id) {
			return nil, fail("%s: id: %q is not a valid destination id; use 1-64 lower-case letters, digits, '-' or '_'", at, id)
		}
		if seen[id] {
			return nil, fail("%s: id %q is used twice; each destination needs its own id", at, id)
		}
		seen[id] = true
		kind, _ := e["kind"].(string)
		own, ok := kindKeys[kind]
		if !ok {
			return nil, fail("%s: kind: %q is not supported; use webhook, hubspot or shopify_inventory", at, kind)
		}
		for k := range e {
			if !slices.Contains(destinationKeys, k) && !slices.Contains(own, k) {
				return nil, fail("%s: %s: unknown key for kind %s; valid keys: %s", at, k, kind,
					strings.Join(append(slices.Clone(destinationKeys), own...), ", "))
			}
		}
		d, err := parseDestination(id, kind, e, getenv)
		if err != nil {
			return nil, fail("%s: %v", at, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// ResolveDestinations checks destinations against the sources they name: a
// shopify_inventory destination's source must be a shopify source, whose
// shop_domain, admin_token and api_base_url it uses when it sets none.
func ResolveDestinations(path string, dests []domain.Destination, sources map[string]domain.Source) error {
	for i := range dests {
		d := &dests[i]
		if d.Kind != domain.DestinationShopifyInventory {
			continue
		}
		at := fmt.Sprintf("sources file %s: destinations[%d] (%s)", path, i, d.ID)
		src, ok := sources[d.Settings[shopify.PushSource]]
		if !ok || src.Provider != shopify.Kind {
			return fmt.Errorf("%s: source: %q is not a shopify source of the sources section", at, d.Settings[shopify.PushSource])
		}
		for _, k := range []string{shopify.PushShopDomain, shopify.PushAdminToken, shopify.PushAPIBaseURL} {
			if d.Settings[k] == "" && src.Settings[k] != "" {
				d.Settings[k] = src.Settings[k]
			}
		}
		// A source's api_base_url names a REST version (…/admin/api/2024-10); the push
		// takes the store's base and adds its own GraphQL path.
		if base, _, ok := strings.Cut(d.Settings[shopify.PushAPIBaseURL], "/admin/api/"); ok && d.Settings[shopify.PushAPIBaseURL] == src.Settings[shopify.PushAPIBaseURL] {
			d.Settings[shopify.PushAPIBaseURL] = base
		}
		if d.Settings[shopify.PushAdminToken] == "" {
			return fmt.Errorf("%s: admin_token: give the store's Admin API access token (here or on source %s), e.g. env:SHOPIFY_ADMIN_TOKEN", at, src.ID)
		}
		if d.Settings[shopify.PushShopDomain] == "" && d.Settings[shopify.PushAPIBaseURL] == "" {
			return fmt.Errorf("%s: shop_domain: give the store's myshopify.com domain (here or on source %s)", at, src.ID)
		}
	}
	return nil
}

func parseDestination(id, kind string, e map[string]any, getenv func(string) (string, bool)) (domain.Destination, error) {
	d := domain.Destination{ID: id, Kind: kind, Timeout: domain.DefaultDestinationTimeout, MaxAttempts: domain.DefaultMaxDeliveryAttempts,
		MinBackoff: domain.DefaultMinBackoff, MaxBackoff: domain.DefaultMaxBackoff, BreakerFailures: domain.DefaultBreakerFailures,
		BreakerCooldown: domain.DefaultBreakerCooldown, Settings: map[string]string{}}
	str := func(k string) (string, error) {
		v, ok := e[k]
		if !ok {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s: must be a string", k)
		}
		if name, ok := strings.CutPrefix(s, "env:"); ok {
			val, set := getenv(name)
			if !set || val == "" {
				return "", fmt.Errorf("%s: environment variable %s is not set", k, name)
			}
			s = val
		}
		return s, nil
	}
	duration := func(k string, into *time.Duration, lo, hi time.Duration) error {
		s, err := str(k)
		if err != nil || s == "" {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < lo || v > hi {
			return fmt.Errorf("%s: %q is not a duration between %s and %s, e.g. 10s", k, s, lo, hi)
		}
		*into = v
		return nil
	}
	number := func(k string, lo, hi float64) (float64, bool, error) { return numberIn(e, k, lo, hi) }
	for _, x := range []struct {
		key    string
		into   *time.Duration
		lo, hi time.Duration
	}{
		{"timeout", &d.Timeout, time.Millisecond, 5 * time.Minute},
		{"min_backoff", &d.MinBackoff, time.Millisecond, 24 * time.Hour},
		{"max_backoff", &d.MaxBackoff, time.Millisecond, 7 * 24 * time.Hour},
		{"breaker_cooldown", &d.BreakerCooldown, time.Millisecond, time.Hour},
	} {
		if err := duration(x.key, x.into, x.lo, x.hi); err != nil {
			return d, err
		}
	}
	if d.MaxBackoff < d.MinBackoff {
		return d, fmt.Errorf("max_backoff: %s is below min_backoff %s", d.MaxBackoff, d.MinBackoff)
	}
	if n, ok, err := number("rate_limit", 0.001, 100000); err != nil {
		return d, err
	} else if ok {
		d.RateLimit = n
	}
	if n, ok, err := number("max_attempts", 1, 1000); err != nil {
		return d, err
	} else if ok {
		d.MaxAttempts = int(n)
	}
	if n, ok, err := number("breaker_failures", 1, 1000); err != nil {
		return d, err
	} else if ok {
		d.BreakerFailures = int(n)
	}
	if v, ok := e["events"]; ok {
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return d, fmt.Errorf("events: list the event types it wants (%s), or leave it out for all", domain.DownstreamTypeList())
		}
		for _, x := range list {
			s, _ := x.(string)
			if !domain.ValidDownstreamType(s) {
				return d, fmt.Errorf("events: %q is not an event type; use %s", fmt.Sprint(x), domain.DownstreamTypeList())
			}
			d.Events = append(d.Events, domain.DownstreamType(s))
		}
	}
	switch kind {
	case domain.DestinationHubSpot:
		for _, k := range hubspot.Keys {
			v, err := str(k)
			if err != nil {
				return d, err
			}
			if v != "" {
				d.Settings[k] = v
			}
		}
		if d.Settings[hubspot.SettingToken] == "" {
			return d, fmt.Errorf("token: give the private app's access token, e.g. token: env:HUBSPOT_TOKEN")
		}
		if _, ok := e["rate_limit"]; !ok {
			d.RateLimit = hubspot.DefaultRateLimit
		}
		if len(d.Events) == 0 {
			for _, t := range domain.DownstreamTypes {
				if hubspot.Wants(t) {
					d.Events = append(d.Events, t)
				}
			}
		}
	case domain.DestinationShopifyInventory:
		for _, k := range shopify.InventoryPushKeys {
			if k == shopify.PushSafetyBuffer || k == shopify.PushMaxPublished || k == shopify.PushSKUs || k == shopify.PushDebounce {
				continue
			}
			v, err := str(k)
			if err != nil {
				return d, err
			}
			if v != "" {
				d.Settings[k] = v
			}
		}
		if d.Settings[shopify.PushSource] == "" {
			return d, fmt.Errorf("source: name the shopify source whose store this pushes to")
		}
		if d.Settings[shopify.PushLocation] == "" {
			return d, fmt.Errorf("location_id: give the Shopify location whose available quantity is set, e.g. gid://shopify/Location/123")
		}
		o, err := parseStockOverride(e)
		if err != nil {
			return d, err
		}
		d.Stock = domain.StockPolicy{MaxPublished: o.MaxPublished}
		if o.SafetyBuffer != nil {
			d.Stock.SafetyBuffer = *o.SafetyBuffer
		}
		if d.SKUStock, err = parseSKUStock(e[shopify.PushSKUs]); err != nil {
			return d, err
		}
		d.Debounce = shopify.DefaultPushDebounce
		if err := duration(shopify.PushDebounce, &d.Debounce, time.Second, time.Hour); err != nil {
			return d, err
		}
		if len(d.Events) == 0 {
			d.Events = []domain.DownstreamType{domain.DownStockChanged}
		}
		if !slices.Equal(d.Events, []domain.DownstreamType{domain.DownStockChanged}) {
			return d, fmt.Errorf("events: a shopify_inventory destination takes stock.changed only")
		}
	case domain.DestinationWebhook:
		u, err := str("url")
		if err != nil {
			return d, err
		}
		pu, perr := url.Parse(u)
		if u == "" || perr != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return d, fmt.Errorf("url: %q is not an http(s) URL; give the receiver's endpoint", u)
		}
		d.URL = u
		list, _ := e["secrets"].([]any)
		if len(list) == 0 {
			return d, fmt.Errorf("secrets: list at least one Standard Webhooks secret (whsec_ followed by base64), newest first")
		}
		for j, x := range list {
			s, _ := x.(string)
			if name, ok := strings.CutPrefix(s, "env:"); ok {
				val, set := getenv(name)
				if !set || val == "" {
					return d, fmt.Errorf("secrets[%d]: environment variable %s is not set", j, name)
				}
				s = val
			}
			if _, err := stdwebhooks.DecodeSecret(s); err != nil {
				return d, fmt.Errorf("secrets[%d]: %s", j, domain.ErrorMessage(err))
			}
			d.Secrets = append(d.Secrets, s)
		}
	}
	return d, nil
}

// numberIn reads the number at key k of m: ok is false when m has no k.
func numberIn(m map[string]any, k string, lo, hi float64) (n float64, ok bool, err error) {
	v, ok := m[k]
	if !ok {
		return 0, false, nil
	}
	switch x := v.(type) {
	case int:
		n = float64(x)
	case float64:
		n = x
	default:
		return 0, false, fmt.Errorf("%s: must be a number between %g and %g", k, lo, hi)
	}
	if n < lo || n > hi {
		return 0, false, fmt.Errorf("%s: %g is out of range; use a number between %g and %g", k, n, lo, hi)
	}
	return n, true, nil
}

// parseStockOverride reads safety_buffer and max_published of m (a stock
// destination or one SKU's entry under its skus): whole numbers from 0.
func parseStockOverride(m map[string]any) (domain.StockOverride, error) {
	var o domain.StockOverride
	for _, x := range []struct {
		key  string
		into **int64
	}{{shopify.PushSafetyBuffer, &o.SafetyBuffer}, {shopify.PushMaxPublished, &o.MaxPublished}} {
		n, ok, err := numberIn(m, x.key, 0, 1e9)
		if err != nil {
			return o, err
		}
		if !ok {
			continue
		}
		if n != float64(int64(n)) {
			return o, fmt.Errorf("%s: %g is not a whole number of units", x.key, n)
		}
		v := int64(n)
		*x.into = &v
	}
	return o, nil
}

// parseSKUStock reads the skus key of a stock destination: per SKU, its own
// safety_buffer and max_published, e.g. skus: {HOT-1: {safety_buffer: 10, max_published: 5}}.
func parseSKUStock(v any) (map[string]domain.StockOverride, error) {
	if v == nil {
		return nil, nil
	}
	entries := map[string]any{}
	switch m := v.(type) {
	case map[string]any:
		entries = m
	case map[any]any:
		for k, x := range m {
			sku, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("skus: SKU %v must be a string; quote it, e.g. \"%v\"", k, k)
			}
			entries[sku] = x
		}
	default:
		return nil, fmt.Errorf("skus: must map each SKU to its own keys, e.g. skus: {HOT-1: {safety_buffer: 10, max_published: 5}}")
	}
	out := make(map[string]domain.StockOverride, len(entries))
	for sku, x := range entries {
		if strings.TrimSpace(sku) == "" {
			return nil, fmt.Errorf("skus: a SKU is empty; name each SKU as the store knows it")
		}
		m, ok := x.(map[string]any)
		if !ok || len(m) == 0 {
			return nil, fmt.Errorf("skus: %s: give safety_buffer and/or max_published, e.g. {safety_buffer: 10, max_published: 5}", sku)
		}
		for k := range m {
			if !slices.Contains(shopify.InventorySKUKeys, k) {
				return nil, fmt.Errorf("skus: %s: %s: unknown key; valid keys: %s", sku, k, strings.Join(shopify.InventorySKUKeys, ", "))
			}
		}
		o, err := parseStockOverride(m)
		if err != nil {
			return nil, fmt.Errorf("skus: %s: %w", sku, err)
		}
		out[sku] = o
	}
	return out, nil
}
