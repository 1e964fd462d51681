package domain

import "context"

// SourceLookup finds a configured source by id: the {source} of /webhooks/{source}.
// The ingress and the worker consume it; Sources implements it.
type SourceLookup interface {
	// Source returns the source with id and whether one is configured.
	Source(id string) (Source, bool)
}

// Sources are the configured sources (the sources file), by id.
type Sources map[string]Source

var _ SourceLookup = Sources(nil)

// Source implements SourceLookup.
func (s Sources) Source(id string) (Source, bool) {
	src, ok := s[id]
	return src, ok
}

// ProviderRegistry finds the provider of a source's provider kind. The ingress and
// the worker consume it; adapters/registry implements it.
type ProviderRegistry interface {
	// Provider returns the provider of kind ("stripe", "shopify", …) and whether
	// one is known.
	Provider(kind string) (Provider, bool)
}

// WebhookQueue hands stored webhooks to the workers. The ingress and the API's
// replay consume it; jobs implements it on Asynq.
type WebhookQueue interface {
	// Enqueue queues inbox entry inboxID, a webhook from src. An entry queued
	// already is not an error. Returns EUNAVAILABLE when the queue cannot be
	// reached: the entry stays received in the inbox and the sweeper queues it.
	Enqueue(ctx context.Context, inboxID int64, src Source) error
}

// CommitQueue hands the webhooks of one inbox commit to the workers together:
// a task per queue for the whole commit instead of one per webhook, so that the
// worker applies a commit's entries with one attempt statement and one apply
// transaction. The ingress's group commit consumes it; jobs implements it on
// Asynq.
type CommitQueue interface {
	// EnqueueCommitted queues the new received entries of one commit: entries[i]
	// was stored as results[i]; duplicates and entries stored as ignored are left
	// out. Returns EUNAVAILABLE when the queue cannot be reached: the entries stay
	// received in the inbox and the sweeper queues them.
	EnqueueCommitted(ctx context.Context, entries []InboxEntry, results []InsertResult) error
}

// BacklogReader tells how far the workers are behind. Load shedding and the
// dashboard consume it; jobs implements it on Asynq.
type BacklogReader interface {
	// Backlog is the number of tasks waiting for a worker in all queues.
	// Returns EUNAVAILABLE when the queue cannot be reached.
	Backlog(ctx context.Context) (int, error)
}
