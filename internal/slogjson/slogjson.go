// Package slogjson is Tradewind's process logger: JSON lines, with durations
// written as people read them.
package slogjson

import (
	"io"
	"log/slog"
)

// New is a JSON logger to w at level (debug, info, warn or error; anything else is info).
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: durationText}))
}

// durationText writes durations as people read them ("15s", not 15000000000).
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}
