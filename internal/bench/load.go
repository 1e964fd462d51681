package bench

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// loadStats is what a load loop measured.
type loadStats struct {
	ok, failed int
	firstErr   string
	lat        []time.Duration // of the successful calls, sorted
	elapsed    time.Duration
}

func (s loadStats) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ok) / s.elapsed.Seconds()
}

func (s loadStats) pct(p float64) float64 { return percentile(s.lat, p) }

// percentile of sorted latencies, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(p*float64(len(sorted))))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// loadCall makes one request; worker is the caller's index.
type loadCall func(ctx context.Context, worker int) error

type loadShard struct {
	ok, failed int
	firstErr   string
	lat        []time.Duration
}

func (s *loadShard) record(err error, d time.Duration) {
	if err != nil {
		s.failed++
		if s.firstErr == "" {
			s.firstErr = err.Error()
		}
		return
	}
	s.ok++
	s.lat = append(s.lat, d)
}

func mergeShards(shards []loadShard, elapsed time.Duration) loadStats {
	st := loadStats{elapsed: elapsed}
	for _, s := range shards {
		st.ok += s.ok
		st.failed += s.failed
		if st.firstErr == "" {
			st.firstErr = s.firstErr
		}
		st.lat = append(st.lat, s.lat...)
	}
	slices.Sort(st.lat)
	return st
}

// closedLoop runs conc callers, each calling back to back, for d.
func closedLoop(ctx context.Context, conc int, d time.Duration, call loadCall) loadStats {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	shards := make([]loadShard, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			s := &shards[w]
			for ctx.Err() == nil {
				t := time.Now()
				err := call(ctx, w)
				if ctx.Err() != nil && err != nil {
					return // cut off by the end of the window
				}
				s.record(err, time.Since(t))
			}
		})
	}
	wg.Wait()
	return mergeShards(shards, time.Since(start))
}

// countedLoop runs conc callers, each calling back to back, until n calls have
// been made.
func countedLoop(ctx context.Context, conc, n int, call loadCall) loadStats {
	shards := make([]loadShard, conc)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			s := &shards[w]
			for ctx.Err() == nil && next.Add(1) <= int64(n) {
				t := time.Now()
				err := call(ctx, w)
				s.record(err, time.Since(t))
			}
		})
	}
	wg.Wait()
	return mergeShards(shards, time.Since(start))
}

// openLoop starts calls at a fixed rate for d, whatever the answers' pace, and
// measures each from when it was due (so a stall counts for every call it held
// up). At most inFlight calls run at once; the rest queue, and their wait counts.
func openLoop(ctx context.Context, rate float64, d time.Duration, inFlight int, call loadCall) loadStats {
	total := int(rate * d.Seconds())
	due := make(chan time.Time, total)
	shards := make([]loadShard, inFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range inFlight {
		wg.Go(func() {
			s := &shards[w]
			for at := range due {
				err := call(ctx, w)
				s.record(err, time.Since(at))
			}
		})
	}
	for i := 0; i < total && ctx.Err() == nil; {
		n := min(total, int(time.Since(start).Seconds()*rate))
		for ; i < n; i++ {
			due <- start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		}
		time.Sleep(200 * time.Microsecond)
	}
	close(due)
	wg.Wait()
	return mergeShards(shards, time.Since(start))
}

// stripeMaker makes signed Stripe webhooks from one template, cheaply: the load
// generator shares the machine with what it measures.
type stripeMaker struct {
	secret string
	tmpl   []byte
	header []byte // the inbox's headers column for such a request
}

const (
	benchEventMark = "evt_BENCHMARK_EVENT"
	benchRefMark   = "BENCHMARK_REF"
)

func newStripeMaker(secret string, amount int64) (*stripeMaker, error) {
	req, err := stripe.Provider{}.Sample(domain.Source{ID: benchSource, Secrets: []string{secret}}, "payment_intent.succeeded",
		webhook.SampleOptions{EventID: benchEventMark, OrderRef: benchRefMark, Amount: amount, Currency: "USD"})
	if err != nil {
		return nil, err
	}
	return &stripeMaker{secret: secret, tmpl: req.Body,
		header: []byte(`{"Content-Type":["application/json"],"Content-Length":["` + strconv.Itoa(len(req.Body)) + `"],"Host":["127.0.0.1"],` +
			`"Stripe-Signature":["t=1700000000,v1=0000000000000000000000000000000000000000000000000000000000000000"],` +
			`"User-Agent":["Stripe/1.0 (+https://stripe.com/docs/webhooks)"]}`)}, nil
}

// body returns the event's body and its Stripe-Signature header, signed now.
func (m *stripeMaker) body(eventID, ref string) ([]byte, string) {
	b := bytes.Replace(m.tmpl, []byte(benchEventMark), []byte(eventID), 1)
	b = bytes.ReplaceAll(b, []byte(benchRefMark), []byte(ref))
	return b, webhook.SignTimestamped(m.secret, time.Now().Unix(), b)
}

// webhookClient posts webhooks over kept-alive connections, with fasthttp's
// client (Fiber's own HTTP engine): little CPU spent on the sending side.
type webhookClient struct {
	hc  *fasthttp.HostClient
	uri string
}

func newWebhookClient(addr, source string, conns int) *webhookClient {
	return &webhookClient{
		hc:  &fasthttp.HostClient{Addr: addr, MaxConns: conns, ReadTimeout: time.Minute, WriteTimeout: time.Minute},
		uri: "http://" + addr + "/webhooks/" + source,
	}
}

// post sends one webhook and returns the status code.
func (c *webhookClient) post(body []byte, signature string) (int, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.uri)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set(stripe.SignatureHeader, signature)
	req.Header.Set(fasthttp.HeaderUserAgent, "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.SetBodyRaw(body)
	if err := c.hc.DoTimeout(req, resp, time.Minute); err != nil {
		return 0, err
	}
	return resp.StatusCode(), nil
}

func (c *webhookClient) close() { c.hc.CloseIdleConnections() }
