// Package reconcile is the nightly comparison of the providers' own records
// (events, payments, orders: whatever each provider lists) with Tradewind's,
// and its repairs through the same apply path the webhooks take (PRODUCT.md,
// "Reconcile").
//
// Both sides are read as streams in one key order and walked side by side
// (Merge): the provider's listing page by page, Tradewind's records through a
// keyset cursor, so a window of any size costs a page of memory. What domain
// decides (domain.ComparePayment, domain.CompareStorefrontOrder,
// domain.ReconciliationConflict) is applied here: a missing event is stored in
// the inbox with origin reconciliation and applied by the worker's handler; a
// record held differently, or unknown to the provider, is a conflict. Every run
// ends by setting drifted stock counters back to their ledger, and stores its
// report.
//
// run.go holds what every provider's pass shares (the run: its repair through
// the apply path, its conflicts); events.go the events pass of the providers
// that list their webhook events (Stripe, PayPal); payments.go the payments
// pass of the providers that list payments (Stripe's payment intents, Square's
// payments); storefront.go the orders pass of the storefronts (Shopify,
// WooCommerce, BigCommerce). Each provider's own file holds its listing and
// what only it knows: how its records read and how a missing one is repaired.
package reconcile

// Usage is `tradewind reconcile`'s help.
const Usage = `Runs the nightly reconciliation on demand, in this process: lists each source's
records at the provider (events, payments or orders, as each provider lists
them) for the window, applies what Tradewind never received through the same
path as webhooks (shown with origin "reconciliation"), records a conflict for
what is held differently, sets every SKU's counters back to its stock ledger,
stores the report (GET /api/v1/reconciliations) and prints it. --dry-run
changes nothing and reports what it would do.`

// Examples are `tradewind reconcile`'s examples, for its help.
const Examples = `  tradewind reconcile --since 24h
  tradewind reconcile --since 2026-11-01T00:00:00Z --until 2026-11-02T00:00:00Z --source acme-stripe --dry-run`
