package httpapi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/domain"
)

func TestActivityFlagsAQuietSource(t *testing.T) {
	now := time.Date(2026, 12, 1, 20, 30, 0, 0, time.UTC)
	h := func(ago int) time.Time { return now.Truncate(time.Hour).Add(-time.Duration(ago) * time.Hour) }
	var counts []domain.HourCount
	for ago := 23; ago >= 6; ago-- { // hourly until six hours ago, then nothing
		counts = append(counts, domain.HourCount{Hour: h(ago), Source: "quiet-shop", Status: "applied", N: 10})
	}
	for ago := 23; ago >= 0; ago-- {
		counts = append(counts, domain.HourCount{Hour: h(ago), Source: "busy-stripe", Status: "applied", N: 5})
	}
	counts = append(counts, domain.HourCount{Hour: h(0), Source: "busy-stripe", Status: "rejected:verification_failed", N: 2},
		domain.HourCount{Hour: h(20), Source: "rare", Status: "applied", N: 1}, domain.HourCount{Hour: h(2), Source: "rare", Status: "applied", N: 1})
	got := map[string]string{}
	for _, a := range activity(counts, now) {
		got[a.Source] = a.Quiet
	}
	want := map[string]string{"busy-stripe": "", "quiet-shop": "nothing for 6h0m0s; usually every 1h0m0s", "rare": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("quiet flags (-want +got):\n%s", diff)
	}

	ch := hourlyChart(counts, now)
	if ch.Max != 16 || len(ch.Bars) == 0 {
		t.Errorf("chart max = %d with %d bars, want 16 (10 + 5 + 1 twenty hours ago) and bars", ch.Max, len(ch.Bars))
	}
}
