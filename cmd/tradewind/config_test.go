package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/registry"
)

func envMap(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func validEnv(t *testing.T) map[string]string {
	sources := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(sources, []byte("sources: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"TRADEWIND_DATABASE_URL": "postgres://u:p@127.0.0.1:5432/tw?sslmode=disable",
		"TRADEWIND_REDIS_URL":    "redis://127.0.0.1:6379/0",
		"TRADEWIND_API_TOKEN":    "0123456789abcdef",
		"TRADEWIND_SOURCES_FILE": sources,
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(envMap(validEnv(t)), true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.SweepInterval != 15*time.Second || cfg.MaxBodyBytes != 1<<20 ||
		cfg.TrustedProxies != "" || cfg.ClientIPHeader != "X-Forwarded-For" {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"missing database", "TRADEWIND_DATABASE_URL", "", "TRADEWIND_DATABASE_URL is not set"},
		{"mysql url", "TRADEWIND_DATABASE_URL", "mysql://x/y", "TRADEWIND_DATABASE_URL is not valid"},
		{"redis url", "TRADEWIND_REDIS_URL", "127.0.0.1:6379", "TRADEWIND_REDIS_URL is not valid"},
		{"short token", "TRADEWIND_API_TOKEN", "short", "TRADEWIND_API_TOKEN is not valid"},
		{"listen", "TRADEWIND_LISTEN", "8080", `TRADEWIND_LISTEN is "8080"`},
		{"duration", "TRADEWIND_SWEEP_INTERVAL", "soon", `TRADEWIND_SWEEP_INTERVAL is "soon", not a duration`},
		{"log level", "TRADEWIND_LOG_LEVEL", "loud", "one of debug, info, warn, error"},
		{"sources file", "TRADEWIND_SOURCES_FILE", "/no/such/file.yaml", "TRADEWIND_SOURCES_FILE"},
		{"trusted proxy prefix", "TRADEWIND_TRUSTED_PROXIES", "10.0.0.0/33", `TRADEWIND_TRUSTED_PROXIES is "10.0.0.0/33"`},
		{"trusted proxy name", "TRADEWIND_TRUSTED_PROXIES", "10.0.0.1,lb.internal", "IP addresses or CIDR prefixes"},
		{"client IP header", "TRADEWIND_CLIENT_IP_HEADER", "X-Forwarded-For: 1.2.3.4", "TRADEWIND_CLIENT_IP_HEADER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv(t)
			env[tt.key] = tt.value
			_, err := LoadConfig(envMap(env), true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "u:p@") {
				t.Errorf("error echoes a credential: %v", err)
			}
		})
	}
}

func TestWorkerRolesDoNotNeedServerSettings(t *testing.T) {
	env := validEnv(t)
	delete(env, "TRADEWIND_API_TOKEN")
	if _, err := LoadConfig(envMap(env), false); err != nil {
		t.Errorf("work without an API token: %v", err)
	}
	if _, err := LoadConfig(envMap(env), true); err == nil {
		t.Error("serve without an API token: no error")
	}
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

func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(Config{})
	for i := range typ.NumField() {
		key := typ.Field(i).Tag.Get("env")
		if !strings.Contains(string(readme), "`"+key+"`") {
			t.Errorf("README.md does not document %s", key)
		}
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
