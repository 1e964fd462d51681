package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/standardwebhooks"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

const unitPrice = 2500 // minor units; every order is one unit of one SKU, paid in full

// hook is one honest webhook (one provider event id); the load sends it dup times.
type hook struct {
	source   string
	eventID  string
	orderRef string
	build    func(now time.Time) (webhook.Request, error)
}

var (
	srcStripe  = domain.Source{ID: "chaos-stripe", Provider: stripe.Kind, Secrets: []string{stripeSecret}}
	srcShopify = domain.Source{ID: "chaos-shopify", Provider: shopify.Kind, Secrets: []string{shopifySecret}}
	srcSWH     = domain.Source{ID: "chaos-swh", Provider: standardwebhooks.Kind, Secrets: []string{swhSecret}}
)

// orderHooks are the webhooks of n orders: two thirds a Shopify order paid through
// Stripe, one third an order and its payment in the Standard Webhooks format. Every
// order is one unit of one of skus. run makes the ids unique per scenario.
func orderHooks(run string, n int, skus []string) []hook {
	var hooks []hook
	for i := range n {
		ref := strconv.Itoa(7_000_000 + i)
		opt := webhook.SampleOptions{OrderRef: ref, SKU: skus[i%len(skus)], Quantity: 1, Amount: unitPrice, Currency: "USD"}
		sample := func(p webhook.Simulator, src domain.Source, typ, id string) hook {
			return hook{source: src.ID, eventID: id, orderRef: ref, build: func(now time.Time) (webhook.Request, error) {
				o := opt
				o.EventID, o.Now = id, now
				return p.Sample(src, typ, o)
			}}
		}
		if i%3 == 2 {
			hooks = append(hooks,
				sample(standardwebhooks.Provider{}, srcSWH, string(domain.OrderPlaced), fmt.Sprintf("msg_%s_%d_order", run, i)),
				sample(standardwebhooks.Provider{}, srcSWH, string(domain.PaymentSucceeded), fmt.Sprintf("msg_%s_%d_pay", run, i)))
		} else {
			hooks = append(hooks,
				sample(shopify.Provider{}, srcShopify, shopify.TopicOrdersCreate, fmt.Sprintf("%s-%08d-0000-4000-8000-000000000000", run, i)),
				sample(stripe.Provider{}, srcStripe, "payment_intent.succeeded", fmt.Sprintf("evt_%s_%d", run, i)))
		}
	}
	return hooks
}

// load sends hooks as a provider would: every delivery is retried (with backoff)
// until it is answered 2xx or the load's context ends; duplicates are separate
// deliveries, and all deliveries go out in a random order.
type load struct {
	hooks      []hook
	dup        int
	acked      []atomic.Bool
	deliveries atomic.Int64 // requests made, retries included
	done       atomic.Int64 // deliveries answered 2xx
	mu         sync.Mutex
	refused    map[string]int // non-2xx answers (and connection errors) to honest requests, retried
	client     *http.Client
}

func newLoad(hooks []hook, dup int) *load {
	return &load{
		hooks: hooks, dup: dup, acked: make([]atomic.Bool, len(hooks)), refused: map[string]int{},
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
}

func (l *load) total() int { return len(l.hooks) * l.dup }

// progress is the share of deliveries answered 2xx so far.
func (l *load) progress() float64 { return float64(l.done.Load()) / float64(l.total()) }

func (l *load) refuse(why string) {
	l.mu.Lock()
	l.refused[why]++
	l.mu.Unlock()
}

func (l *load) refusedSummary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.refused) == 0 {
		return "0"
	}
	var parts []string
	for k, v := range l.refused {
		parts = append(parts, fmt.Sprintf("%d×%s", v, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func (l *load) refusedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range l.refused {
		n += v
	}
	return n
}

// run sends every delivery with concurrency senders to the live serve processes of c.
func (l *load) run(ctx context.Context, c *cluster, concurrency int) {
	jobs := make([]int, 0, l.total())
	for i := range l.hooks {
		for range l.dup {
			jobs = append(jobs, i)
		}
	}
	rand.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	var next atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				j := int(next.Add(1)) - 1
				if j >= len(jobs) || ctx.Err() != nil {
					return
				}
				l.deliver(ctx, c, jobs[j])
			}
		})
	}
	wg.Wait()
}

func (l *load) deliver(ctx context.Context, c *cluster, i int) {
	h := l.hooks[i]
	backoff := 20 * time.Millisecond
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			// A provider's retry delay, not a wait for a condition.
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		}
		serves := c.liveServes()
		if len(serves) == 0 {
			l.refuse("no serve running")
			continue
		}
		req, err := h.build(time.Now()) // signed now, as a provider's retry is
		if err != nil {
			panic(fmt.Sprintf("build %s %s: %v", h.source, h.eventID, err))
		}
		status, err := post(ctx, l.client, serves[rand.IntN(len(serves))].url()+"/webhooks/"+h.source, req)
		l.deliveries.Add(1)
		switch {
		case err != nil:
			l.refuse("connection error")
		case status/100 == 2:
			l.acked[i].Store(true)
			l.done.Add(1)
			return
		default:
			l.refuse(strconv.Itoa(status))
		}
	}
}

func post(ctx context.Context, client *http.Client, url string, r webhook.Request) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.Body))
	if err != nil {
		return 0, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// ackedKeys are the (source, event id) pairs of the hooks answered 2xx at least once.
func (l *load) ackedKeys() (sources, ids []string) {
	for i, h := range l.hooks {
		if l.acked[i].Load() {
			sources, ids = append(sources, h.source), append(ids, h.eventID)
		}
	}
	return sources, ids
}

// settledOrders are the orders whose webhooks were all answered 2xx.
func (l *load) settledOrders() []string {
	all := map[string]bool{}
	for i, h := range l.hooks {
		ok, seen := all[h.orderRef]
		all[h.orderRef] = (ok || !seen) && l.acked[i].Load()
	}
	var out []string
	for ref, ok := range all {
		if ok {
			out = append(out, ref)
		}
	}
	return out
}

// unapplied counts acknowledged hooks that are not (yet) stored and applied once:
// no inbox row, a row not applied or ignored, or no applied_events row for it.
func (c *cluster) unapplied(sources, ids []string) int {
	return c.count(`
		SELECT count(*) FROM unnest($1::text[], $2::text[]) AS a(source, event_id)
		WHERE NOT EXISTS (
			SELECT 1 FROM inbox i
			WHERE i.source = a.source AND i.event_id = a.event_id AND i.status IN ('applied', 'ignored')
			  AND EXISTS (SELECT 1 FROM applied_events e WHERE e.inbox_id = i.id))`,
		pq.Array(sources), pq.Array(ids))
}

// appliedTwice counts effects applied more than once: an order whose ledger rows
// (paid: all its events applied) do not net to one committed unit (or none,
// backordered) with nothing left reserved,
// a payment captured more than was sent, or an inbox row or applied event stored twice.
func (c *cluster) appliedTwice(orders []string) int {
	return c.count(`
		SELECT
		  (SELECT count(*) FROM (
		     SELECT order_ref FROM stock_ledger
		     WHERE order_ref = ANY($1) AND order_ref IN (SELECT ref FROM orders WHERE payment_status = 'paid')
		     GROUP BY order_ref HAVING SUM(delta_reserved) <> 0 OR SUM(delta_on_hand) NOT IN (0, -1)) x)
		+ (SELECT count(*) FROM payments WHERE order_ref = ANY($1) AND captured > $2)
		+ (SELECT count(*) FROM (SELECT 1 FROM inbox GROUP BY source, event_id HAVING count(*) > 1) y)
		+ (SELECT count(*) FROM (SELECT 1 FROM applied_events GROUP BY inbox_id, event_id HAVING count(*) > 1) z)`,
		pq.Array(orders), unitPrice)
}

// wrongState counts orders whose webhooks were all acknowledged but that are not paid.
func (c *cluster) wrongState(orders []string) int {
	return c.count(`
		SELECT count(*) FROM unnest($1::text[]) AS o(ref)
		WHERE NOT EXISTS (SELECT 1 FROM orders WHERE ref = o.ref AND payment_status = 'paid')`, pq.Array(orders))
}

// oversold counts units held (reserved or committed) beyond the stock each SKU was given.
func (c *cluster) oversold(stock map[string]int) int {
	skus, levels := []string{}, []int64{}
	for s, n := range stock {
		skus, levels = append(skus, s), append(levels, int64(n))
	}
	return c.count(`
		SELECT COALESCE(SUM(GREATEST(held - s.level, 0)), 0) FROM unnest($1::text[], $2::bigint[]) AS s(sku, level)
		CROSS JOIN LATERAL (SELECT COALESCE(SUM(quantity), 0) AS held FROM allocations a
		                    WHERE a.sku = s.sku AND a.state IN ('reserved', 'committed')) h`,
		pq.Array(skus), pq.Array(levels))
	// (inventory's CHECK (reserved <= on_hand) backs this up; ledgerMismatches checks the counters)
}

// ledgerMismatches counts SKUs whose counters differ from the sum of their ledger, or
// whose reserved count differs from what reservations and allocations hold.
func (c *cluster) ledgerMismatches() int {
	return c.count(`
		SELECT count(*) FROM inventory i
		WHERE i.on_hand <> (SELECT COALESCE(SUM(delta_on_hand), 0) FROM stock_ledger l WHERE l.sku = i.sku)
		   OR i.reserved <> (SELECT COALESCE(SUM(delta_reserved), 0) FROM stock_ledger l WHERE l.sku = i.sku)
		   OR i.reserved <> (SELECT COALESCE(SUM(quantity), 0) FROM reservations r WHERE r.sku = i.sku AND r.state = 'active')
		       + (SELECT COALESCE(SUM(quantity), 0) FROM allocations a WHERE a.sku = i.sku AND a.state = 'reserved')
		   OR i.reserved > i.on_hand OR i.on_hand < 0`)
}

// describeUnapplied says, for a few acknowledged hooks not applied, where they are.
func (c *cluster) describeUnapplied(sources, ids []string) string {
	var rows []string
	err := c.db.Select(&rows, `
		SELECT a.source || ' ' || a.event_id || ': ' || COALESCE(
		  (SELECT 'inbox ' || i.id || ' ' || i.status || ', attempts ' || i.attempts || ', last error ' || i.last_error ||
		          ', applied events ' || (SELECT count(*) FROM applied_events e WHERE e.inbox_id = i.id)
		   FROM inbox i WHERE i.source = a.source AND i.event_id = a.event_id), 'not in the inbox')
		FROM unnest($1::text[], $2::text[]) AS a(source, event_id)
		WHERE NOT EXISTS (
			SELECT 1 FROM inbox i
			WHERE i.source = a.source AND i.event_id = a.event_id AND i.status IN ('applied', 'ignored')
			  AND EXISTS (SELECT 1 FROM applied_events e WHERE e.inbox_id = i.id))
		LIMIT 5`, pq.Array(sources), pq.Array(ids))
	if err != nil {
		return err.Error()
	}
	return strings.Join(rows, "; ")
}
