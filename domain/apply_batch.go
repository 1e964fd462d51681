package domain

import "context"

// EntryEvents is an inbox entry with its normalized events, ready to apply.
type EntryEvents struct {
	ID     int64
	Events []Event
}

// BatchApplier applies several inbox entries together. Each entry ends as if it
// had been applied alone (Applier.ApplyEntry): applied and committed with its
// effects, or not at all with its own error. One entry's bad input never fails
// another's.
type BatchApplier interface {
	// ApplyEntries returns one error per entry, in the entries' order. An entry
	// that does not exist gets ENOTFOUND.
	ApplyEntries(ctx context.Context, entries []EntryEvents) []error
}
