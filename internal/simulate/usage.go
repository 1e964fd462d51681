package simulate

// Usage is the long help of `tradewind simulate`: what it does with its flags
// and the sources file, and the event types of every provider.
func Usage() string {
	return `Send correctly signed sample webhooks of a provider to a Tradewind URL. With no
provider, list the providers, their sources in the sources file and their event types.

With no event type, the provider's most common one is sent; with --shuffle or --batch
and no event type, the provider's whole order flow is sent (in random order with
--shuffle, as one batch with --batch). The secret and settings come from
--secret/--setting, or else from the source's entry in the sources file (--source,
default demo-<provider>).

PowerTranz and PlugnPay callbacks are confirmed, and BigCommerce's thin payloads
completed, by the worker calling the provider's API at the source's api_base_url. When
that is a loopback address (as in examples/sources.yaml), simulate serves a fake of that
API there itself, tells it about the deliveries it sends (so they confirm; not with
--unconfirmed), and keeps serving until the worker has called it (at most
--wait-timeout). If the port is taken by 'tradewind simulate --serve', it tells that
one instead.

With --wait it then waits until Tradewind has applied the order (every webhook it
stored dealt with, and GET /api/v1/orders/{ref} answering) and prints it as JSON on
stdout, the summary going to stderr. It asks the Tradewind the webhooks went to, with
the token in TRADEWIND_API_TOKEN (default: make run's dev token). Not applied within
--wait-timeout, it says what Tradewind answered about the order and its webhooks, and
exits non-zero.

'tradewind simulate --serve' only serves those fakes — for every source in the sources
file with a loopback api_base_url, or for the providers named — until Ctrl-C.

Event types by provider (the first is the default; --shuffle and --batch send the flow):
` + TypesHelp()
}

// Examples are `tradewind simulate`'s examples, for its help.
const Examples = `  tradewind simulate stripe payment_intent.succeeded --order-ref 1001
  tradewind simulate stripe payment_intent.succeeded --order-ref 1001 --wait   # prints the applied order
  tradewind simulate stripe --shuffle --count 100 --concurrency 8 --duplicates 3
  tradewind simulate powertranz --order-ref 1002          # confirmed by the fake gateway it serves
  tradewind simulate powertranz --unconfirmed             # a forged callback: stored, then rejected
  tradewind simulate adyen --batch                        # AUTHORISATION, CAPTURE, REFUND in one request
  tradewind simulate --serve                              # the fake gateways and store, until Ctrl-C
  tradewind simulate stripe charge.refunded --url https://tw.example.com/webhooks/acme-stripe --secret whsec_…`
