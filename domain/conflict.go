package domain

import (
	"context"
	"time"
)

// Conflict kinds.
const (
	ConflictPaidAfterCancelled   = "paid_after_cancelled"   // money captured on a cancelled order: refund needed
	ConflictAmountMismatch       = "amount_mismatch"        // captured differs from the order total
	ConflictRefundExceedsCapture = "refund_exceeds_capture" // more refunded than captured
	ConflictCurrencyMismatch     = "currency_mismatch"      // a payment in another currency than the order
	ConflictOversold             = "oversold"               // an order wanted stock that was not there
	ConflictDispute              = "dispute"                // a dispute was opened
	ConflictStaleStock           = "stale_stock_level"      // a stock level older than the one applied
)

// Conflict states.
const (
	// ConflictPending: the condition holds but may be a mere artefact of arrival
	// order (a refund before its capture); it is not shown until it has held for
	// the grace period, and it is forgotten if it clears before.
	ConflictPending = "pending"
	// ConflictOpen: the condition holds and a person must decide.
	ConflictOpen = "open"
	// ConflictResolved: a stated rule resolved it (ResolvedBy "rule") or a person
	// did (ResolvedBy "person").
	ConflictResolved = "resolved"
	// ConflictCleared: the condition no longer holds.
	ConflictCleared = "cleared"
)

// Who resolved a conflict.
const (
	ResolvedByRule   = "rule"
	ResolvedByPerson = "person"
)

// Conflict is a contradiction between sources that Tradewind recorded.
type Conflict struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	State      string     `json:"state"`                 // pending, open, resolved or cleared
	ResolvedBy string     `json:"resolved_by,omitempty"` // rule or person, when resolved
	OrderRef   string     `json:"order_ref,omitempty"`
	SKU        string     `json:"sku,omitempty"`
	Detail     string     `json:"detail"`
	Rule       string     `json:"rule,omitempty"` // the rule that resolved it, or "" while open
	Note       string     `json:"note,omitempty"` // what the person who resolved it wrote
	Events     []string   `json:"events"`         // the event ids behind it
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// ConflictFilter selects conflicts; empty fields match everything (but State ""
// leaves pending conflicts out: they are shown only when asked for).
type ConflictFilter struct {
	State    string
	Kind     string
	OrderRef string
	Limit    int
}

// Conflicts lists and resolves conflicts.
type Conflicts interface {
	// List returns conflicts, newest first.
	List(ctx context.Context, f ConflictFilter) ([]Conflict, error)
	// Resolve closes an open conflict with a person's note. Returns ENOTFOUND if
	// there is no such conflict and ECONFLICT if it is already resolved.
	Resolve(ctx context.Context, id int64, note string) (Conflict, error)
}

// ConflictCondition is one conflict condition evaluated on an order's state.
type ConflictCondition struct {
	Kind   string
	SKU    string
	Holds  bool
	Detail string
	Rule   string // a stated rule that resolves it at once; "" leaves it for a person
}

// StoredConflict is a conflict as recorded, as far as the decisions need it.
type StoredConflict struct {
	Kind       string
	SKU        string
	State      string
	Rule       string
	ResolvedBy string
	HeldSince  time.Time // when its condition began to hold
}

// ConflictChange is one decision about a conflict, for storage to write.
type ConflictChange struct {
	Kind   string
	SKU    string
	Delete bool // a pending conflict whose condition cleared before anyone saw it: forget it
	State  string
	Rule   string
	// ResolvedBy is who resolved it (ResolvedByRule or ResolvedByPerson), or "".
	ResolvedBy string
	// Detail describes the condition; "" keeps the one recorded.
	Detail    string
	HeldSince time.Time
	// Event is the event to record on it, or "".
	Event string
	// Resolved says the conflict is resolved or cleared as of now.
	Resolved bool
}

// Artefact reports whether a conflict kind can be a mere artefact of arrival
// order: a refund that arrives before its capture, a payment before its order's
// total. Such a conflict waits out the grace period before it is shown.
func Artefact(kind string) bool {
	return kind == ConflictRefundExceedsCapture || kind == ConflictAmountMismatch
}

// DecideConflicts decides, for each condition, whether its conflict opens, stays,
// waits, clears or is forgotten:
//
//   - a condition that holds opens its conflict (or resolves it at once by its
//     rule); one that can be an artefact of arrival order waits as pending until
//     it has held for grace (MatureConflict shows it then);
//   - a conflict whose condition no longer holds is cleared; a pending one is
//     deleted, so orders whose events merely arrived out of order leave nothing;
//   - a conflict a person resolved stays resolved.
//
// Conditions are keyed by (kind, SKU); stored are the order's recorded conflicts.
func DecideConflicts(conds []ConflictCondition, stored []StoredConflict, now time.Time, grace time.Duration, eventID string) []ConflictChange {
	var out []ConflictChange
	for _, c := range conds {
		var s *StoredConflict
		for i := range stored {
			if stored[i].Kind == c.Kind && stored[i].SKU == c.SKU {
				s = &stored[i]
				break
			}
		}
		ch := ConflictChange{Kind: c.Kind, SKU: c.SKU}
		standing := s != nil && (s.State == ConflictPending || s.State == ConflictOpen ||
			(s.State == ConflictResolved && s.ResolvedBy == ResolvedByRule))
		if !c.Holds {
			switch {
			case !standing:
				continue
			case s.State == ConflictPending:
				ch.Delete = true
			default:
				ch.State, ch.Rule, ch.HeldSince, ch.Resolved = ConflictCleared, "condition cleared by "+eventID, s.HeldSince, true
			}
			out = append(out, ch)
			continue
		}
		ch.Detail, ch.Event = c.Detail, eventID
		if s != nil && s.ResolvedBy == ResolvedByPerson {
			// A person's resolution stands; the conflict records what happened since.
			ch.State, ch.Rule, ch.ResolvedBy, ch.HeldSince = s.State, s.Rule, s.ResolvedBy, s.HeldSince
			out = append(out, ch)
			continue
		}
		ch.HeldSince = now
		if standing {
			ch.HeldSince = s.HeldSince
		}
		ch.State, ch.Rule = matured(c.Rule)
		shown := standing && s.State != ConflictPending
		if !shown && Artefact(c.Kind) && now.Sub(ch.HeldSince) < grace {
			ch.State = ConflictPending
		}
		if ch.State == ConflictResolved {
			ch.ResolvedBy, ch.Resolved = ResolvedByRule, true
		}
		if shown && s.State == ch.State && s.ResolvedBy == ch.ResolvedBy {
			ch.Resolved = false // resolved before: keep its time
		}
		out = append(out, ch)
	}
	return out
}

// matured is the state a conflict is shown in: resolved by its rule, or open.
func matured(rule string) (state, resolvedRule string) {
	if rule != "" {
		return ConflictResolved, rule
	}
	return ConflictOpen, ""
}

// MatureConflict decides what a pending conflict becomes at now: it is shown
// (open, or resolved by the rule it was recorded with) once its condition has
// held for grace; ok is false while it keeps waiting.
func MatureConflict(c StoredConflict, now time.Time, grace time.Duration) (ch ConflictChange, ok bool) {
	if c.State != ConflictPending || now.Sub(c.HeldSince) < grace {
		return ConflictChange{}, false
	}
	ch = ConflictChange{Kind: c.Kind, SKU: c.SKU, HeldSince: c.HeldSince}
	ch.State, ch.Rule = matured(c.Rule)
	if ch.State == ConflictResolved {
		ch.ResolvedBy, ch.Resolved = ResolvedByRule, true
	}
	return ch, true
}
