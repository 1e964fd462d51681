// Package jobs holds Tradewind's Asynq tasks, one file per task type: its type
// constant, payload, constructor and handler. A task type string is permanent once
// deployed: tasks already queued under it must still be understood.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/hibiken/asynq"
)

// Queues, by criticality. Workers pull from them by weight (see Weights).
const (
	QueueCritical = "critical" // payments: money first
	QueueDefault  = "default"  // orders and stock
	QueueLow      = "low"      // CRM and other downstream pushes
)

// Weights are the Asynq queue priorities: out of every 10 picks, 6 critical, 3 default, 1 low.
var Weights = map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}

// Logger bridges Asynq's logger to slog, once, for every Asynq component.
type Logger struct{ L *slog.Logger }

var _ asynq.Logger = Logger{}

func (l Logger) Debug(args ...any) { l.L.Debug(fmt.Sprint(args...), slog.String("component", "asynq")) }
func (l Logger) Info(args ...any)  { l.L.Info(fmt.Sprint(args...), slog.String("component", "asynq")) }
func (l Logger) Warn(args ...any)  { l.L.Warn(fmt.Sprint(args...), slog.String("component", "asynq")) }
func (l Logger) Error(args ...any) { l.L.Error(fmt.Sprint(args...), slog.String("component", "asynq")) }

// Fatal logs and exits, as asynq.Logger requires.
func (l Logger) Fatal(args ...any) {
	l.L.Log(context.Background(), slog.LevelError+4, fmt.Sprint(args...), slog.String("component", "asynq"))
	os.Exit(1)
}
