package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCLI runs the real command line with args and returns its stdout and stderr.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCommand(&out, &errOut)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// Progress written anywhere but a terminal is plain lines: a log must not fill
// with carriage-return frames (issue 13).
func TestBenchReconcileProgressOffATerminalIsPlainLines(t *testing.T) {
	t.Parallel()
	stdout, stderr, err := runCLI(t, "bench", "reconcile", "--orders", "50000")
	if err != nil {
		t.Fatalf("bench reconcile: %v\n%s", err, stderr)
	}
	if strings.ContainsAny(stderr, "\r\x1b") {
		t.Errorf("progress has carriage returns or escape codes:\n%q", stderr)
	}
	if !strings.Contains(stderr, "compared: 50000/50000 (100%)") {
		t.Errorf("progress has no plain line for the end:\n%s", stderr)
	}
	if !strings.Contains(stdout, "reconcile: 50000 orders") {
		t.Errorf("stdout has no result:\n%s", stdout)
	}
}
