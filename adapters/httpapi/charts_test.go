package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
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

type countingOps struct {
	noOps
	calls chan time.Time
	n     int
}

func (o *countingOps) HourlyCounts(_ context.Context, since time.Time) ([]domain.HourCount, error) {
	o.n++
	o.calls <- since
	return []domain.HourCount{{Hour: since, Source: "s", Status: "applied", N: o.n}}, nil
}

func TestHourlyCacheServesStaleWhileItRecounts(t *testing.T) {
	ops := &countingOps{calls: make(chan time.Time, 10)}
	var h hourlyCache
	t0 := time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC)
	n := func(at time.Time) int {
		got, err := h.get(context.Background(), ops, at)
		if err != nil || len(got) != 1 {
			t.Fatalf("get = %v, %v", got, err)
		}
		return got[0].N
	}
	if got := n(t0); got != 1 {
		t.Fatalf("first get = count %d, want the first count", got)
	}
	<-ops.calls
	if got := n(t0.Add(10 * time.Second)); got != 1 || len(ops.calls) != 0 {
		t.Errorf("fresh get = count %d (%d recounts), want the cached one and no recount", got, len(ops.calls))
	}
	if got := n(t0.Add(hourlyTTL + time.Second)); got != 1 {
		t.Errorf("stale get = count %d, want the cached one at once", got)
	}
	<-ops.calls // the background recount ran
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		return n(t0.Add(hourlyTTL+2*time.Second)) == 2, "the recount to replace the cached counts"
	})
	if got := n(t0.Add(time.Hour)); got != 3 {
		t.Errorf("next hour = count %d, want a new count at once", got)
	}
}
