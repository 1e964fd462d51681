package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// WebhookReplayer is the part of the inbox (domain.InboxBrowser) a replay uses.
type WebhookReplayer interface {
	List(ctx context.Context, f domain.InboxFilter) ([]domain.InboxEntry, error)
	Requeue(ctx context.Context, id int64) (domain.InboxEntry, error)
}

// ReplaySelection reads what `tradewind replay` is to replay: the webhook ids
// args, and every webhook with status (--status), which is never applied.
func ReplaySelection(args []string, status string) ([]int64, error) {
	if len(args) == 0 && status == "" {
		return nil, errors.New("name webhook ids, or select them with --status (failed, rejected, ignored or received)")
	}
	var ids []int64
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id < 1 {
			return nil, fmt.Errorf("%q is not a webhook id (see GET /api/v1/webhooks)", a)
		}
		ids = append(ids, id)
	}
	if status == domain.InboxApplied {
		return nil, errors.New("--status applied: applied webhooks are never replayed; replaying them would change nothing")
	}
	return ids, nil
}

// ReplaySkip is a webhook a replay left alone, and why.
type ReplaySkip struct {
	ID     int64
	Reason string
}

// ReplayWebhooks puts stored webhooks back in the queue, to be applied again
// through the same path as the first time: the entries ids, then, when
// f.Status is set, every entry f selects. One that is applied already or does
// not exist is skipped, with the reason. One marked for replay but not queued
// ends the replay with an error: the sweeper will queue it.
func ReplayWebhooks(ctx context.Context, inbox WebhookReplayer, q Enqueuer, tasks TaskInspector, ids []int64, f domain.InboxFilter) (replayed int, skipped []ReplaySkip, err error) {
	if f.Status != "" {
		list, err := inbox.List(ctx, f)
		if err != nil {
			return 0, nil, err
		}
		for _, e := range list {
			ids = append(ids, e.ID)
		}
	}
	for _, id := range ids {
		e, err := inbox.Requeue(ctx, id)
		switch {
		case domain.ErrorCode(err) == domain.ECONFLICT || domain.ErrorCode(err) == domain.ENOTFOUND:
			skipped = append(skipped, ReplaySkip{ID: id, Reason: domain.ErrorMessage(err)})
			continue
		case err != nil:
			return replayed, skipped, err
		}
		if _, err := EnqueueEntry(ctx, q, tasks, id, e.Provider); err != nil {
			return replayed, skipped, fmt.Errorf("webhook %d is marked for replay but could not be queued (the sweeper will queue it): %w", id, err)
		}
		replayed++
	}
	return replayed, skipped, nil
}

// ReplayDeliveries queues again every delivery of destination in status
// created in [since, until), its attempts counted from zero, a page at a time
// (domain.RetryAll), and returns how many were queued. One marked but not queued
// ends the replay with an error (the sweeper will queue it; the next replay
// takes the rest); the count is of those queued before.
func ReplayDeliveries(ctx context.Context, outbox domain.DeliveryRetrier, q Enqueuer, tasks TaskInspector, destination string, status domain.DeliveryStatus, since, until time.Time) (int, error) {
	queued := 0
	_, err := domain.RetryAll(ctx, outbox, destination, status, since, until, func(page []domain.Outbound) error {
		for _, o := range page {
			if _, err := EnqueueDelivery(ctx, q, tasks, o.ID); err != nil {
				return fmt.Errorf("delivery %d is marked for replay but could not be queued (the sweeper will queue it): %w", o.ID, err)
			}
			queued++
		}
		return nil
	})
	return queued, err
}

// ReplayUsage is `tradewind replay`'s help (ReplayWebhooks).
const ReplayUsage = `Put stored webhooks back in the queue so they are applied again through the same
path as the first time: failed ones after a fix, rejected ones once the gateway
confirms, ignored ones after an upgrade taught Tradewind their type. A webhook that
is applied already is left alone: replaying it would change nothing.`

// ReplayExamples are `tradewind replay`'s examples, for its help.
const ReplayExamples = `  tradewind replay 1042 1043
  tradewind replay --status failed --source acme-stripe`

// ReplayDeliveriesUsage is `tradewind replay deliveries`'s help (ReplayDeliveries).
const ReplayDeliveriesUsage = `Queue downstream deliveries again, their attempts counted from zero. A replay is
delivered with the same webhook-id as before (the receiver's dedupe still works) and
a fresh timestamp and signature. Times are RFC 3339; the range is [since, until).`

// ReplayDeliveriesExamples are `tradewind replay deliveries`'s examples, for its help.
const ReplayDeliveriesExamples = `  tradewind replay deliveries --destination acme-crm --status dead
  tradewind replay deliveries --destination acme-crm --status dead --since 2026-11-01T00:00:00Z`
