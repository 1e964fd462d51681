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

func TestDurationsLoggedAsText(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf, "info")
	l.Info("sweeping", slog.Duration("interval", 15*time.Second))
	if diff := cmp.Diff(`"interval":"15s"}`, grepLines(strings.ReplaceAll(buf.String(), ",", "\n"), "interval")); diff != "" {
		t.Errorf("(-want +got):\n%s\nlog: %s", diff, buf.String())
	}
}
