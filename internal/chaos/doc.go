// Package chaos is the chaos suite: it builds the real tradewind binary, runs its
// serve, work and schedule processes on a real PostgreSQL database and a real Redis,
// sends signed webhooks (with duplicates, shuffled, beside hostile senders) while it
// kills processes, restarts Redis, fails Redis over through Sentinel, runs on a Redis
// Cluster, cuts PostgreSQL's connections, restarts and crashes a PostgreSQL of its
// own, exhausts descriptors and hangs the CRMs it delivers to,
// and then checks that every acknowledged webhook was stored and applied exactly
// once, that the stock ledger sums to the counters and that nothing was oversold
// (and, for the CRMs, that every delivery reached them once after they recovered).
//
// `go test ./internal/chaos` runs a small size that fits CI; TRADEWIND_CHAOS=full (what
// `make chaos` sets) runs a larger one, and TRADEWIND_CHAOS_REPORT=path writes the
// results as Markdown tables. Everything lives in the test files.
package chaos
