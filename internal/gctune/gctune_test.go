package gctune

import (
	"runtime/debug"
	"testing"
)

func TestDefaultKeepsAnExplicitGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150) // as the runtime read it at start
	if got := Default(); got != 150 {
		t.Errorf("Default() with GOGC=150 = %d, want 150", got)
	}
	t.Setenv("GOGC", "")
	if got := Default(); got != Percent {
		t.Errorf("Default() without GOGC = %d, want %d", got, Percent)
	}
	if got := debug.SetGCPercent(Percent); got != Percent {
		t.Errorf("GC percent in force = %d, want %d", got, Percent)
	}
}
