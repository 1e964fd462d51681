package sourcesfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/domain"
)

// crmSecret is a Standard Webhooks secret.
const crmSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func envMap(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestSourcesFile(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"minimal form", "sources:\n  - id: acme-stripe\n    provider: stripe\n    secrets: [\"whsec_a\"]\n", ""},
		{"settings and env secret", "sources:\n  - id: acme-stripe\n    provider: stripe\n    secrets: [\"env:TW_SECRET\", \"whsec_old\"]\n    order_ref_key: order_id\n", ""},
		{"unknown provider", "sources:\n  - id: a\n    provider: strype\n    secrets: [\"x\"]\n", `provider "strype" is not supported; use one of:`},
		{"bad id", "sources:\n  - id: Acme Stripe\n    provider: stripe\n", "sources[0].id"},
		{"duplicate id", "sources:\n  - {id: a, provider: stripe, secrets: [whsec_1]}\n  - {id: a, provider: stripe, secrets: [whsec_2]}\n", `id "a" is used twice`},
		{"missing env secret", "sources:\n  - id: a\n    provider: stripe\n    secrets: [\"env:TW_NOT_SET\"]\n", "environment variable TW_NOT_SET is not set"},
		{"stripe without secret", "sources:\n  - id: a\n    provider: stripe\n", "secrets:"},
		{"wrong secret shape", "sources:\n  - id: a\n    provider: stripe\n    secrets: [\"sk_live_x\"]\n", "starts with whsec_"},
		{"empty", "sources: []\n", "list at least one source"},
		{"not yaml", "sources: [\n", "sources file s.yaml"},
		{"missing env setting", "sources:\n  - id: a\n    provider: stripe\n    secrets: [whsec_1]\n    api_token: env:TW_TOKEN_NOT_SET\n", "api_token: environment variable TW_TOKEN_NOT_SET is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSources("s.yaml", []byte(tt.yaml), envMap(map[string]string{"TW_SECRET": "whsec_from_env"}))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s := got["acme-stripe"]; s.Secrets[0] != "whsec_a" && s.Secrets[0] != "whsec_from_env" {
					t.Errorf("secrets = %v", s.Secrets)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	got, err := ParseSources("s.yaml", []byte("sources:\n  - id: w\n    provider: stripe\n    secrets: [whsec_1]\n    order_ref_key: order_id\n    api_token: env:TW_TOKEN\n"),
		envMap(map[string]string{"TW_TOKEN": "tok_from_env"}))
	if err != nil {
		t.Fatal(err)
	}
	if got["w"].OrderRefKey() != "order_id" || got["w"].Settings["api_token"] != "tok_from_env" {
		t.Errorf("settings = %v, want order_ref_key order_id and api_token from the environment", got["w"].Settings)
	}
}

// FuzzParseSources: a sources file is bytes from outside; nothing may panic, and
// whatever parses names a known provider for every source.
func FuzzParseSources(f *testing.F) {
	f.Add([]byte("sources:\n  - id: acme-stripe\n    provider: stripe\n    secrets: [\"whsec_a\"]\n"))
	f.Add([]byte("sources:\n  - {id: a, provider: hmac, secrets: [k], header: X-Sig, rate_limit: 5}\n"))
	f.Add([]byte("sources: [\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := ParseSources("fuzz.yaml", raw, envMap(nil))
		if err != nil {
			return
		}
		for id, s := range got {
			if _, ok := registry.Lookup(s.Provider); !ok || s.ID != id {
				t.Fatalf("parsed source %q with unknown provider %q", id, s.Provider)
			}
		}
	})
}

func TestParseDestinations(t *testing.T) {
	env := envMap(map[string]string{"CRM_SECRET": crmSecret})
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"valid", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://crm.example.com/h\n    secrets: [env:CRM_SECRET]\n    events: [order.paid]\n    timeout: 5s\n    rate_limit: 20\n    max_attempts: 12\n    min_backoff: 5s\n    max_backoff: 1h\n", ""},
		{"none", "sources: []\n", ""},
		{"hubspot", "destinations:\n  - id: hs\n    kind: hubspot\n    token: env:CRM_SECRET\n", ""},
		{"shopify_inventory", "destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: gid://shopify/Location/1\n    safety_buffer: 2\n    max_published: 50\n    debounce: 3s\n", ""},
		{"shopify_inventory without location", "destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: acme-shopify\n", "location_id:"},
		{"shopify_inventory negative buffer", "destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: s\n    location_id: l\n    safety_buffer: -1\n", "safety_buffer: -1 is out of range"},
		{"sku overrides", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {safety_buffer: 10, max_published: 5}\n      \"123\": {max_published: 0}\n", ""},
		{"sku override unknown key", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {safety_bufer: 10}\n", "destinations[0] (acme-shop-stock): skus: HOT-1: safety_bufer: unknown key; valid keys: safety_buffer, max_published"},
		{"sku override negative", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {max_published: -5}\n", "skus: HOT-1: max_published: -5 is out of range"},
		{"sku override not a number", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {safety_buffer: lots}\n", "skus: HOT-1: safety_buffer: must be a number"},
		{"sku override fraction", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {safety_buffer: 2.5}\n", "skus: HOT-1: safety_buffer: 2.5 is not a whole number"},
		{"sku override empty", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: {}\n", "skus: HOT-1: give safety_buffer and/or max_published"},
		{"sku override not a map", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      HOT-1: 10\n", "skus: HOT-1: give safety_buffer and/or max_published"},
		{"skus not a map", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      - HOT-1\n", "skus: must map each SKU to its own keys"},
		{"sku unquoted number", "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n    skus:\n" + "      123: {max_published: 0}\n", "skus: SKU 123 must be a string; quote it"},
		{"skus on a webhook", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n    skus: {A: {max_published: 1}}\n", "skus: unknown key for kind webhook"},
		{"hubspot without token", "destinations:\n  - id: hs\n    kind: hubspot\n", "token: give the private app's access token"},
		{"hubspot with a webhook key", "destinations:\n  - id: hs\n    kind: hubspot\n    token: t\n    url: https://x.example/\n", "url: unknown key for kind hubspot"},
		{"unknown key", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n    retries: 3\n", "destinations[0] (crm): retries: unknown key"},
		{"unknown kind", "destinations:\n  - id: crm\n    kind: fax\n", `kind: "fax" is not supported`},
		{"bad event", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n    events: [order.shipped]\n", `events: "order.shipped" is not an event type`},
		{"bad secret", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [plain]\n", "secrets[0]: not a Standard Webhooks secret"},
		{"bad duration", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n    timeout: soon\n", `timeout: "soon" is not a duration`},
		{"no url", "destinations:\n  - id: crm\n    kind: webhook\n    secrets: [" + crmSecret + "]\n", "url:"},
		{"missing env", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [env:NOPE]\n", "environment variable NOPE is not set"},
		{"duplicate id", "destinations:\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n  - id: crm\n    kind: webhook\n    url: https://x.example/h\n    secrets: [" + crmSecret + "]\n", "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDestinations("s.yaml", []byte(tt.yaml), env)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// A stock destination's safety_buffer and max_published, and each SKU's own
// under skus, are parsed into the destination's policies.
func TestParseDestinationsStockPolicies(t *testing.T) {
	y := "destinations:\n  - id: acme-shop-stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: l\n" +
		"    safety_buffer: 2\n    max_published: 50\n    skus:\n      HOT-1: {safety_buffer: 10, max_published: 5}\n      COLD-2: {max_published: 0}\n"
	dests, err := ParseDestinations("s.yaml", []byte(y), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	n := func(v int64) *int64 { return &v }
	want := []domain.StockPolicy{{SafetyBuffer: 2, MaxPublished: n(50)}, {SafetyBuffer: 10, MaxPublished: n(5)}, {SafetyBuffer: 2, MaxPublished: n(0)}}
	var got []domain.StockPolicy
	for _, sku := range []string{"MUG", "HOT-1", "COLD-2"} {
		got = append(got, dests[0].StockPolicyOf(sku))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policies of MUG, HOT-1, COLD-2 (-want +got):\n%s", diff)
	}
	plain, err := ParseDestinations("s.yaml", []byte("destinations:\n  - id: s\n    kind: shopify_inventory\n    source: a\n    location_id: l\n"), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(domain.StockPolicy{}, plain[0].StockPolicyOf("MUG")); diff != "" {
		t.Errorf("no buffer, no cap (-want +got):\n%s", diff)
	}
}

func TestResolveDestinationsChecksTheStockSource(t *testing.T) {
	parse := func(y string) []domain.Destination {
		d, err := ParseDestinations("s.yaml", []byte(y), envMap(nil))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	sources := domain.Sources{
		"acme-stripe":  {ID: "acme-stripe", Provider: "stripe", Secrets: []string{"whsec_x"}},
		"acme-shopify": {ID: "acme-shopify", Provider: "shopify", Secrets: []string{"x"}, Settings: map[string]string{"shop_domain": "acme.myshopify.com", "admin_token": "shpat_x"}},
	}
	ok := parse("destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: gid://shopify/Location/1\n")
	if err := ResolveDestinations("s.yaml", ok, sources); err != nil || ok[0].Settings["admin_token"] != "shpat_x" {
		t.Errorf("resolve: %v %v; want the source's admin_token taken", err, ok[0].Settings)
	}
	// The source's api_base_url names a REST version; the push is given the store's base.
	sources["acme-shopify"].Settings["api_base_url"] = "http://127.0.0.1:8094/admin/api/2024-10"
	inherited := parse("destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: acme-shopify\n    location_id: gid://shopify/Location/1\n")
	if err := ResolveDestinations("s.yaml", inherited, sources); err != nil || inherited[0].Settings["api_base_url"] != "http://127.0.0.1:8094" {
		t.Errorf("resolve: %v, api_base_url %q; want the store's base, http://127.0.0.1:8094", err, inherited[0].Settings["api_base_url"])
	}
	bad := parse("destinations:\n  - id: stock\n    kind: shopify_inventory\n    source: acme-stripe\n    location_id: gid://shopify/Location/1\n")
	if err := ResolveDestinations("s.yaml", bad, sources); err == nil || !strings.Contains(err.Error(), `source: "acme-stripe" is not a shopify source`) {
		t.Errorf("a stripe source: %v", err)
	}
}

func TestOperatorsSection(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	env := envMap(map[string]string{"BOB_HASH": string(hash)})
	for _, tc := range []struct{ name, yaml, wantErr string }{
		{"none", "sources: []\n", ""},
		{"hash and env", "operators:\n  - {name: alice, password_hash: \"" + string(hash) + "\"}\n  - {name: bob, password_hash: env:BOB_HASH}\n", ""},
		{"clear text refused", "operators:\n  - {name: alice, password_hash: hunter2}\n", "not a bcrypt hash"},
		{"twice", "operators:\n  - {name: a, password_hash: env:BOB_HASH}\n  - {name: a, password_hash: env:BOB_HASH}\n", "listed twice"},
		{"unset env", "operators:\n  - {name: a, password_hash: env:NOPE}\n", "NOPE, which is not set"},
		{"no name", "operators:\n  - {password_hash: env:BOB_HASH}\n", "name is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseOperators("s.yaml", []byte(tc.yaml), env)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("ParseOperators = %v, want error %q", err, tc.wantErr)
			}
		})
	}
}

func TestSourcesFileConfirmRateLimit(t *testing.T) {
	tests := []struct {
		name, setting, want string // want: "" for valid, else part of the error
	}{
		{name: "default", setting: ""},
		{name: "per minute", setting: "confirm_rate_limit: 30\n"},
		{name: "zero", setting: "confirm_rate_limit: 0\n", want: `confirm_rate_limit is "0"; want confirmation calls per minute`},
		{name: "not a number", setting: "confirm_rate_limit: lots\n", want: "confirm_rate_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "sources:\n  - id: a\n    provider: stripe\n    secrets: [whsec_1]\n    " + tt.setting
			_, err := ParseSources("s.yaml", []byte(yaml), envMap(nil))
			if tt.want == "" && err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
