package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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
