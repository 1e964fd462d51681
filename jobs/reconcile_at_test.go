package jobs_test

import (
	"fmt"
	"testing"

	"github.com/tradewind/tradewind/jobs"
)

func TestReconcileAt(t *testing.T) {
	tests := []struct {
		name, at, tz string
		want         string // "Location HH:MM", or the error
	}{
		{name: "unset: 02:30 UTC", want: "UTC 02:30"},
		{name: "set", at: "23:05", tz: "Europe/Berlin", want: "Europe/Berlin 23:05"},
		{name: "unknown zone", at: "02:30", tz: "Mars/Olympus", want: `TRADEWIND_RECONCILE_TZ "Mars/Olympus" is not a known time zone; want an IANA time zone, e.g. UTC or Europe/Berlin`},
		{name: "not a clock", at: "2:30pm", want: `TRADEWIND_RECONCILE_AT "2:30pm" is not HH:MM, e.g. 02:30`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, at, err := jobs.ReconcileAt(tt.at, tt.tz)
			got := fmt.Sprint(err)
			if err == nil {
				got = loc.String() + " " + at.Format("15:04")
			}
			if got != tt.want {
				t.Errorf("ReconcileAt(%q, %q) = %s, want %s", tt.at, tt.tz, got, tt.want)
			}
		})
	}
}
