package jobs

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/domain"
)

func TestRetentionPolicy(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	src := func(id, provider, retention string) domain.Source {
		s := domain.Source{ID: id, Provider: provider, Settings: map[string]string{}}
		if retention != "" {
			s.Settings["retention"] = retention
		}
		return s
	}
	tests := []struct {
		name    string
		global  time.Duration
		sources []domain.Source
		want    map[string]time.Duration
		wantErr string // a part of the message
	}{
		{name: "default covers every provider", global: 30 * day,
			sources: []domain.Source{src("s", "stripe", ""), src("a", "adyen", "")},
			want:    map[string]time.Duration{"s": 30 * day, "a": 30 * day}},
		{name: "a source may keep less, down to its provider's window", global: 30 * day,
			sources: []domain.Source{src("shop", "shopify", "4h"), src("s", "stripe", "72h")},
			want:    map[string]time.Duration{"shop": 4 * time.Hour, "s": 72 * time.Hour}},
		{name: "global below Stripe's three days", global: 48 * time.Hour,
			sources: []domain.Source{src("s", "stripe", "")}, wantErr: "TRADEWIND_RETENTION is 48h0m0s, shorter than stripe's retry window (72h0m0s"},
		{name: "global below Adyen's 30 days", global: 7 * day,
			sources: []domain.Source{src("s", "stripe", ""), src("ad", "adyen", "")}, wantErr: `TRADEWIND_RETENTION is 168h0m0s, shorter than adyen's`},
		{name: "a source's own retention below its window", global: 30 * day,
			sources: []domain.Source{src("shop", "shopify", "1h")}, wantErr: `retention of source "shop" in the sources file is 1h0m0s, shorter than shopify's`},
		{name: "a source's own retention is not a duration", global: 30 * day,
			sources: []domain.Source{src("s", "stripe", "a month")}, wantErr: `retention of source "s" in the sources file is "a month", not a duration`},
		{name: "global is enough when no source needs more", global: 4 * time.Hour,
			sources: []domain.Source{src("shop", "shopify", "")}, want: map[string]time.Duration{"shop": 4 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]domain.Source{}
			for _, s := range tt.sources {
				m[s.ID] = s
			}
			got, err := RetentionPolicy(tt.global, m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || domain.ErrorCode(err) != domain.EINVALID {
					t.Fatalf("err = %v, want EINVALID containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
		})
	}
}

type recordingPruner struct{ calls []string }

func (p *recordingPruner) PruneWebhooks(_ context.Context, sources []string, others bool, cutoff time.Time) (map[string]int64, error) {
	kind := "only"
	if others {
		kind = "all but"
	}
	p.calls = append(p.calls, kind+" "+strings.Join(sources, ",")+" before "+cutoff.Format(time.DateOnly))
	return map[string]int64{"inbox": 1}, nil
}

func (p *recordingPruner) PruneStock(_ context.Context, cutoff time.Time) (map[string]int64, error) {
	p.calls = append(p.calls, "stock before "+cutoff.Format(time.DateOnly))
	return nil, nil
}

// TestPruneUsesEachSourcesRetention: each configured source is pruned at its own
// cutoff; everything else (removed sources, unknown sources' rejections) and the
// stock ledger at the default.
func TestPruneUsesEachSourcesRetention(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC)
	p := &recordingPruner{}
	h := &Prune{Pruner: p, Retention: map[string]time.Duration{"shop": 4 * time.Hour, "stripe": 10 * 24 * time.Hour},
		Default: 30 * 24 * time.Hour, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := h.ProcessTask(context.Background(), NewPruneTask()); err != nil {
		t.Fatal(err)
	}
	want := []string{"only shop before 2026-12-31", "only stripe before 2026-12-21", "all but shop,stripe before 2026-12-01", "stock before 2026-12-01"}
	if diff := cmp.Diff(want, p.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
