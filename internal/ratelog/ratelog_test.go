package ratelog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/internal/ratelog"
)

type line struct {
	Msg        string `json:"msg"`
	Kind       string `json:"kind"`
	Suppressed int    `json:"suppressed"`
}

func TestLoggerWritesOneLinePerKindPerInterval(t *testing.T) {
	type step struct {
		advance time.Duration // before logging
		kind    string
	}
	tests := []struct {
		name  string
		steps []step
		want  []line
	}{
		{
			name:  "a burst is one line",
			steps: []step{{0, "a"}, {time.Second, "a"}, {time.Second, "a"}},
			want:  []line{{Msg: "m", Kind: "a"}},
		},
		{
			name:  "the next line after the interval counts what was held back",
			steps: []step{{0, "a"}, {time.Second, "a"}, {time.Second, "a"}, {10 * time.Second, "a"}, {10 * time.Second, "a"}},
			want:  []line{{Msg: "m", Kind: "a"}, {Msg: "m", Kind: "a", Suppressed: 2}, {Msg: "m", Kind: "a"}},
		},
		{
			name:  "kinds are limited apart",
			steps: []step{{0, "a"}, {0, "b"}, {time.Second, "a"}, {0, "b"}},
			want:  []line{{Msg: "m", Kind: "a"}, {Msg: "m", Kind: "b"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			l := ratelog.New(slog.New(slog.NewJSONHandler(&buf, nil)), 10*time.Second, func() time.Time { return now })
			for _, s := range tt.steps {
				now = now.Add(s.advance)
				l.Warn(context.Background(), s.kind, "m", slog.String("kind", s.kind))
			}
			var got []line
			for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var ln line
				if err := json.Unmarshal([]byte(raw), &ln); err != nil {
					t.Fatalf("%q: %v", raw, err)
				}
				got = append(got, ln)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoggerBelowItsLevelCountsNothing(t *testing.T) {
	var buf bytes.Buffer
	l := ratelog.New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})), time.Second, nil)
	l.Warn(context.Background(), "a", "m")
	if buf.Len() != 0 {
		t.Errorf("wrote %q below the handler's level", buf.String())
	}
}
