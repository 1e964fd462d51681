package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestVersionCommandAndFlag(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out bytes.Buffer
		cmd := newRootCommand(&out, &out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if want := "tradewind " + Version() + "\n"; out.String() != want || Version() == "" {
			t.Errorf("%v printed %q, want %q", args, out.String(), want)
		}
	}
}

// Every subcommand reads its environment through osEnv, which falls back to
// scripts/deps.sh's servers (so `replay` and `migrate` find `make run`'s
// databases from a second terminal, as `simulate` and `bench` do).
func TestLocalDepsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		key      string
		want     string
		wantNote bool
	}{
		{"set wins", map[string]string{"TRADEWIND_DATABASE_URL": "postgres://db/x"}, "TRADEWIND_DATABASE_URL", "postgres://db/x", false},
		{"database default", nil, "TRADEWIND_DATABASE_URL", "postgres://postgres@127.0.0.1:55432/tradewind?sslmode=disable", true},
		{"redis default", nil, "TRADEWIND_REDIS_URL", "redis://127.0.0.1:56379/0", true},
		{"deps.sh port", map[string]string{"TRADEWIND_REDIS_PORT": "7000"}, "TRADEWIND_REDIS_URL", "redis://127.0.0.1:7000/0", true},
		{"others untouched", nil, "TRADEWIND_LISTEN", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noted := false
			lookup := withLocalDeps(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok },
				func(string, string) { noted = true })
			got, _ := lookup(tc.key)
			if got != tc.want || noted != tc.wantNote {
				t.Errorf("lookup(%s) = %q (noted %v), want %q (noted %v)", tc.key, got, noted, tc.want, tc.wantNote)
			}
		})
	}
}

func TestDurationsLoggedAsText(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf, "info")
	l.Info("sweeping", slog.Duration("interval", 15*time.Second))
	if diff := cmp.Diff(`"interval":"15s"}`, grepLines(strings.ReplaceAll(buf.String(), ",", "\n"), "interval")); diff != "" {
		t.Errorf("(-want +got):\n%s\nlog: %s", diff, buf.String())
	}
}
