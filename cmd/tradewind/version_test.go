package main

import (
	"bytes"
	"testing"
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
