package jobs

import (
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// RegisterSchedule registers the cron's tasks on s: the nightly reconciliation
// at the time of day at (in s's location); the inbox sweep, reservation expiry
// and conflict maturing every interval; the retention prune hourly; and, when
// deliveries is set (destinations are configured), the delivery sweep every
// interval.
func RegisterSchedule(s *asynq.Scheduler, interval time.Duration, at time.Time, deliveries bool) error {
	// A periodic task's fixed id must never stay taken: a copy whose worker lost its
	// lease (a worker killed, Redis restarted from its AOF mid-run) is retried, not
	// archived, since an archived copy kept the id and Asynq refused every later one
	// (found by the chaos suite). Periodic never fails a run, so retries are only
	// these.
	leaseRetries := asynq.MaxRetry(5)
	every := "@every " + interval.String()
	// Every replica's cron ticks; the tick queues the night's run under an id
	// of its window, so the night is reconciled once (ReconcileNightly).
	tasks := []struct {
		spec, what string
		task       *asynq.Task
	}{
		{fmt.Sprintf("%d %d * * *", at.Minute(), at.Hour()), "the nightly reconciliation", NewReconcileNightlyTask()},
		{every, "inbox sweep", NewSweepInboxTask()},
		{every, "reservation expiry", NewExpireReservationsTask()},
		{every, "conflict maturing", NewMatureConflictsTask()},
		{"@every 1h", "retention prune", NewPruneTask()},
	}
	if deliveries {
		tasks = append(tasks, struct {
			spec, what string
			task       *asynq.Task
		}{every, "delivery sweep", NewSweepDeliveriesTask()})
	}
	for _, t := range tasks {
		if _, err := s.Register(t.spec, t.task, leaseRetries); err != nil {
			return fmt.Errorf("schedule %s: %w", t.what, err)
		}
	}
	return nil
}

// ReconcileAt reads the nightly reconciliation's time of day (HH:MM, "" is 02:30)
// and time zone (IANA, "" is UTC): TRADEWIND_RECONCILE_AT and _TZ, which
// LoadConfig has checked already.
func ReconcileAt(at, tz string) (*time.Location, time.Time, error) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("TRADEWIND_RECONCILE_TZ %q is not a known time zone; want an IANA time zone, e.g. UTC or Europe/Berlin", tz)
	}
	if at == "" {
		at = "02:30"
	}
	clock, err := time.Parse("15:04", at)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("TRADEWIND_RECONCILE_AT %q is not HH:MM, e.g. 02:30", at)
	}
	return loc, clock, nil
}
