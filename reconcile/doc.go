// Package reconcile will hold the nightly comparison of the providers' own records
// (Stripe payment intents, Shopify orders, …) with Tradewind's, and its repairs
// through the same apply path the webhooks take (PRODUCT.md, "Reconcile"). It is
// empty until the issue that builds it; the folder is part of the fixed layout.
package reconcile
