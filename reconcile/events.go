package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// The events pass, for providers that list the webhook events they sent
// (Stripe, PayPal): their listing of the window (newest first) is merged with
// the source's inbox entries in the same order (eventOrder). An event Tradewind
// never received is stored in the inbox (origin reconciliation) under its own
// event id, so a webhook that arrives later is a duplicate, and applied by the
// worker's path; an entry the provider does not list is an
// unknown_to_provider conflict.

// listedEvent is one event of a provider's listing: its head and its raw JSON.
type listedEvent struct {
	ID      string
	Type    string
	Created time.Time
	raw     json.RawMessage
}

// eventOrder is the events pass's order: newest first, then by id (the
// providers leave the order of one instant's events unspecified;
// inEventOrder sorts them).
func eventOrder(at time.Time, id string, at2 time.Time, id2 string) int {
	if c := at2.Compare(at); c != 0 {
		return c
	}
	return cmp.Compare(id, id2)
}

// inEventOrder yields a provider's listing (newest first), read by head, in
// eventOrder: the events of one instant, sorted by id. Only one instant's
// events are held at a time. Event types outside types (sorted; nil: none) are
// skipped. A listing that is not newest first ends in an error: the merge's
// findings would be wrong otherwise.
func inEventOrder(events iter.Seq2[json.RawMessage, error], types []string, head func(json.RawMessage) (listedEvent, error)) iter.Seq2[listedEvent, error] {
	listed := func(yield func(listedEvent, error) bool) {
		var last time.Time
		started := false
		for raw, err := range events {
			if err != nil {
				yield(listedEvent{}, err)
				return
			}
			e, err := head(raw)
			if err != nil {
				yield(listedEvent{}, fmt.Errorf("listed event: %v", err))
				return
			}
			if _, ok := slices.BinarySearch(types, e.Type); !ok && len(types) > 0 {
				continue
			}
			if started && e.Created.After(last) {
				yield(listedEvent{}, fmt.Errorf("event %s (created %s) was listed after older ones: the listing is not newest first", e.ID, e.Created.Format(time.RFC3339Nano)))
				return
			}
			last, started = e.Created, true
			if !yield(e, nil) {
				return
			}
		}
	}
	return byIDWithinInstant(listed, func(e listedEvent) (time.Time, string) { return e.Created, e.ID })
}

// heldInEventOrder yields the source's inbox entries (newest first) in
// eventOrder. The store sorts one instant's entries by event id in the
// database's collation, which is the bytes' order only in the C locale (a
// database created with en_US.utf8 puts "evt_1a" before "evt_1B"); the merge
// would take the same event, listed and held, for one missing and one unknown
// to the provider. So they are sorted again here, one instant at a time.
func heldInEventOrder(entries iter.Seq2[domain.HeldEntry, error]) iter.Seq2[domain.HeldEntry, error] {
	return byIDWithinInstant(entries, func(u domain.HeldEntry) (time.Time, string) { return u.OccurredAt, u.EventID })
}

// byIDWithinInstant yields seq, which is newest first, with the items of one
// instant sorted by id (bytes, as eventOrder compares them). Only one instant's
// items are held at a time; an error ends the walk after the items read before
// it.
func byIDWithinInstant[T any](seq iter.Seq2[T, error], key func(T) (time.Time, string)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var group []T
		var at time.Time
		flush := func() bool {
			slices.SortFunc(group, func(a, b T) int {
				_, ida := key(a)
				_, idb := key(b)
				return cmp.Compare(ida, idb)
			})
			for _, v := range group {
				if !yield(v, nil) {
					return false
				}
			}
			group = group[:0]
			return true
		}
		for v, err := range seq {
			if err != nil {
				if flush() {
					var zero T
					yield(zero, err)
				}
				return
			}
			t, _ := key(v)
			if len(group) > 0 && !t.Equal(at) && !flush() {
				return
			}
			group, at = append(group, v), t
		}
		flush()
	}
}

// compareEvents merges theirs, provider's listing in eventOrder, with ours,
// the source's inbox entries in the same order, repairing what Tradewind
// missed and recording what provider does not list. provider names it in
// conflicts ("Stripe").
func (s *run) compareEvents(ctx context.Context, provider string, theirs iter.Seq2[listedEvent, error],
	ours iter.Seq2[domain.HeldEntry, error]) error {
	return Merge(ctx, theirs, heldInEventOrder(dbErrors(ours)),
		func(t listedEvent, u domain.HeldEntry) int {
			return eventOrder(t.Created, t.ID, u.OccurredAt, u.EventID)
		},
		func(t *listedEvent, u *domain.HeldEntry) error {
			s.rep.compared()
			switch {
			case t != nil && u != nil:
				return nil
			case t != nil:
				return s.repairListed(ctx, t)
			default:
				return s.unknownEvent(ctx, provider, u)
			}
		})
}

// repairListed repairs a listed event Tradewind never received (repairEvent);
// a dry run only counts it.
func (s *run) repairListed(ctx context.Context, e *listedEvent) error {
	s.rep.Missing++
	ok, err := s.repairEvent(ctx, domain.InboxEntry{Source: s.src.ID, Provider: s.src.Provider, EventID: e.ID, EventType: e.Type,
		Body: e.raw, OccurredAt: e.Created})
	if ok {
		s.rep.Repaired++
	}
	return err
}

// unknownEvent records an event Tradewind holds that provider does not list.
func (s *run) unknownEvent(ctx context.Context, provider string, u *domain.HeldEntry) error {
	detail := fmt.Sprintf("event %s (%s, %s) is held by Tradewind as webhook %d but %s does not list it", u.EventID, u.EventType,
		u.OccurredAt.Format(time.RFC3339Nano), u.ID, provider)
	return s.conflict(ctx, domain.Unknown, u.OrderRef, detail, u.EventID)
}
