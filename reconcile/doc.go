// Package reconcile is the nightly comparison of the providers' own records
// (Stripe events and payment intents today) with Tradewind's, and its repairs
// through the same apply path the webhooks take (PRODUCT.md, "Reconcile").
//
// Both sides are read as streams in one key order and walked side by side
// (Merge): the provider's listing page by page, Tradewind's records through a
// keyset cursor, so a window of any size costs a page of memory. What domain
// decides (domain.ComparePayment, domain.ReconciliationConflict) is applied
// here: a missing event is stored in the inbox with origin reconciliation and
// applied by the worker's handler; a record held differently, or unknown to the
// provider, is a conflict. Every run ends by setting drifted stock counters back
// to their ledger, and stores its report.
package reconcile
