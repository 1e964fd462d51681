// Package gctune sets the Go garbage collector's default for Tradewind.
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC Tradewind runs with unless GOGC is set. Its heap is
// small (tens of MiB under load) and mostly short-lived request and batch
// garbage, so collecting at 4× the live heap instead of 2× halves the
// collector's CPU for a few MiB: `tradewind bench e2e` applied ~9% more events
// per second on 2 cores (README, "Benchmarks").
const Percent = 300

// Default applies Percent when the GOGC environment variable is not set, and
// returns the percent in force.
func Default() int {
	if os.Getenv("GOGC") != "" {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(Percent)
	return Percent
}
