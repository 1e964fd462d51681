package slogjson_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/internal/slogjson"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name  string
		level string
		log   func(*slog.Logger)
		want  []map[string]any
	}{
		{name: "durations as text", level: "info",
			log:  func(l *slog.Logger) { l.Info("sweeping", slog.Duration("interval", 15*time.Second)) },
			want: []map[string]any{{"level": "INFO", "msg": "sweeping", "interval": "15s"}}},
		{name: "below the level left out", level: "warn",
			log:  func(l *slog.Logger) { l.Info("quiet"); l.Warn("loud") },
			want: []map[string]any{{"level": "WARN", "msg": "loud"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slogjson.New(&buf, tt.level))
			var got []map[string]any
			dec := json.NewDecoder(&buf)
			for dec.More() {
				var line map[string]any
				if err := dec.Decode(&line); err != nil {
					t.Fatalf("not JSON lines: %v", err)
				}
				delete(line, "time")
				got = append(got, line)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}
