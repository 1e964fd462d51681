package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// size is how much each scenario sends. TRADEWIND_CHAOS=full is `make chaos`;
// anything else is the small size that runs in CI with the rest of the suite.
type size struct {
	name        string
	orders      int           // orders per scenario (two webhooks each)
	dup         int           // deliveries of each webhook
	stormDup    int           // deliveries of each webhook in the duplicate storm
	concurrency int           // senders
	hostile     int           // rounds of hostile inputs in the poison scenario
	sendFor     time.Duration // how long senders keep retrying
	drainFor    time.Duration // how long the workers get to apply everything after the load
}

func chaosSize() size {
	if os.Getenv("TRADEWIND_CHAOS") == "full" {
		return size{name: "full", orders: 400, dup: 2, stormDup: 10, concurrency: 16, hostile: 20,
			sendFor: 5 * time.Minute, drainFor: 4 * time.Minute}
	}
	// Asynq recovers a killed worker's tasks once their 30 s lease expired, on a
	// recoverer's next pass (every minute, from each worker's start): 30-90 s after the
	// kill. drainFor is a bound for failing, not the time it takes.
	return size{name: "ci", orders: 30, dup: 2, stormDup: 10, concurrency: 8, hostile: 1,
		sendFor: 90 * time.Second, drainFor: 200 * time.Second}
}

func TestMain(m *testing.M) {
	if os.Getenv("TRADEWIND_TEST_DATABASE_URL") == "" {
		// The whole suite needs it too; say so here rather than fail in every scenario.
		fmt.Fprintln(os.Stderr, "chaos: TRADEWIND_TEST_DATABASE_URL is not set: run the suite with `make test` (or `make chaos`)")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "tradewind-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tradewind")
	build := exec.Command("go", "build", "-o", binary, "github.com/tradewind/tradewind/cmd/tradewind")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: go build ./cmd/tradewind:", err)
		os.Exit(1)
	}
	code := m.Run()
	if path := os.Getenv("TRADEWIND_CHAOS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "chaos: write report:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one row of the scenario table.
type result struct {
	scenario                         string
	sent, deliveries, acked, refused int
	refusedDetail                    string
	lost, twice, wrong, oversold     int
	ledger                           int
	drain                            time.Duration
	note                             string
}

// hostileResult is one row of the hostile-input table.
type hostileResult struct {
	name, source, want, got, pending string
}

var (
	resultsMu sync.Mutex
	results   []result
	hostiles  []hostileResult
)

func record(r result) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	results = append(results, r)
}

func report() string {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	var b strings.Builder
	sz := chaosSize()
	fmt.Fprintf(&b, "# Chaos suite results\n\nSize `%s` (%d orders per scenario, two webhooks each; every webhook delivered %d times, %d in the storm), "+
		"%d senders; %s, %d CPUs. Written by `make chaos` (`scripts/chaos.sh`).\n\n",
		sz.name, sz.orders, sz.dup, sz.stormDup, sz.concurrency, runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU())
	b.WriteString("| scenario | webhooks sent | deliveries (with retries) | acknowledged | refused, retried | lost | applied twice | wrong state | oversold | ledger ≠ counters | time to drain |\n")
	b.WriteString("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
	order := map[string]int{}
	for i, s := range scenarios() {
		order[s.name] = i
	}
	rs := append([]result{}, results...)
	sortBy(rs, func(r result) int { return order[r.scenario] })
	for _, r := range rs {
		name := r.scenario
		if r.note != "" {
			name += " (" + r.note + ")"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %d | %d | %d | %d | %d | %.1f s |\n", name, r.sent, r.deliveries, r.acked,
			r.refusedDetail, r.lost, r.twice, r.wrong, r.oversold, r.ledger, r.drain.Seconds())
	}
	b.WriteString("\n## Hostile inputs\n\nSent beside the honest load of the poison scenario; the answer each got (several when it varied).\n\n")
	b.WriteString("| input | source | want | got | note |\n|---|---|---|---|---|\n")
	for _, h := range hostiles {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", h.name, h.source, h.want, h.got, h.pending)
	}
	return b.String()
}

func sortBy[T any](s []T, key func(T) int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && key(s[j]) < key(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// scenario is one fault (or none) injected while the honest load runs.
type scenario struct {
	name string
	opts clusterOpts
	dup  func(size) int
	// fault runs beside the load and must leave everything running when it returns
	// (the CRMs of "CRM hangs" are the exception: they hang until after releases them).
	fault func(t *testing.T, f *faults)
	note  string
	// after runs once everything drained, before the checks; it returns more of the note.
	after func(t *testing.T, c *cluster, l *load, sz size) string
	// honestNeverRefused: every honest request must be answered 2xx at once (no
	// 503 because a hostile neighbour shared its group commit).
	honestNeverRefused bool
}

// faults gives a scenario's fault what it acts on.
type faults struct {
	ctx context.Context
	c   *cluster
	l   *load
	sz  size
}

// at waits until the load is frac done (or the load ends).
func (f *faults) at(frac float64) bool {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for f.l.progress() < frac {
		select {
		case <-f.ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// outage keeps a fault on for d: the length of the outage, not a wait for a condition.
func (f *faults) outage(d time.Duration) {
	select {
	case <-f.ctx.Done():
	case <-time.After(d):
	}
}

func scenarios() []scenario {
	one := clusterOpts{serves: 1, works: 1, scheds: 1}
	return []scenario{
		{name: "duplicate storm ×10, shuffled", opts: one, dup: func(s size) int { return s.stormDup }},
		{name: "worker SIGKILL, repeatedly", opts: clusterOpts{serves: 1, works: 2, scheds: 1},
			fault: func(t *testing.T, f *faults) {
				for _, at := range []float64{0.15, 0.35, 0.55, 0.75} {
					if !f.at(at) {
						return
					}
					for _, w := range f.c.works { // both: the tasks they held wait for their leases to expire
						w.kill()
						w.start()
					}
				}
			}},
		{name: "serve SIGKILL", opts: one,
			fault: func(t *testing.T, f *faults) {
				for _, at := range []float64{0.3, 0.6} {
					if !f.at(at) {
						return
					}
					f.c.serves[0].kill()
					f.c.serves[0].start()
				}
			}},
		{name: "Redis restart without AOF (queue lost)", opts: one,
			fault: func(t *testing.T, f *faults) {
				if !f.at(0.3) {
					return
				}
				f.c.redis.kill()
				f.at(0.6) // webhooks are still stored and answered while Redis is down
				f.c.redis.start()
			}},
		{name: "Redis restart with AOF (appendfsync always)", opts: clusterOpts{serves: 1, works: 1, scheds: 1, aof: true},
			fault: func(t *testing.T, f *faults) {
				if !f.at(0.3) {
					return
				}
				f.c.redis.kill()
				f.at(0.6)
				f.c.redis.start()
			}},
		{name: "PostgreSQL connections cut for 3 s", opts: clusterOpts{serves: 1, works: 1, scheds: 1, proxyPG: true},
			note: "a proxy cuts every connection and refuses new ones: a network cut",
			fault: func(t *testing.T, f *faults) {
				if !f.at(0.4) {
					return
				}
				f.c.pgProxy.Cut()
				f.outage(3 * time.Second)
				f.c.pgProxy.Restore()
			}},
		pgRestart("PostgreSQL restart (fast shutdown), twice", "fast", 0.3, 0.6),
		pgRestart("PostgreSQL crash (immediate shutdown) and recovery", "immediate", 0.5),
		{name: "descriptor exhaustion (nofile 256, 400 idle connections for 3 s)",
			opts: clusterOpts{serves: 1, works: 1, scheds: 1, serveNofile: 256, serveEnv: []string{"TRADEWIND_MAX_CONNECTIONS=100000"}},
			fault: func(t *testing.T, f *faults) {
				if !f.at(0.4) {
					return
				}
				var conns []net.Conn
				for range 400 {
					c, err := net.DialTimeout("tcp", f.c.serves[0].listen, 5*time.Second)
					if err != nil {
						break
					}
					conns = append(conns, c)
				}
				f.outage(3 * time.Second)
				for _, c := range conns {
					c.Close()
				}
			}},
		{name: "poison-pill senders beside honest ones", opts: one, honestNeverRefused: true,
			fault: func(t *testing.T, f *faults) { sendHostile(t, f) }},
		{name: "Sentinel failover: primary SIGKILLed", opts: clusterOpts{serves: 1, works: 1, scheds: 1, sentinel: true},
			fault: func(t *testing.T, f *faults) {
				if !f.at(0.3) {
					return
				}
				f.c.sentinel.failover()
			},
			after: func(t *testing.T, c *cluster, _ *load, _ size) string {
				return c.sentinel.checkFollowed(t, c) + "; " + c.replayOne(t)
			}},
		{name: "Redis Cluster (3 primaries), no fault", opts: clusterOpts{serves: 1, works: 1, scheds: 1, redisCluster: true},
			after: func(t *testing.T, c *cluster, _ *load, _ size) string { return c.replayOne(t) }},
		// The CRMs hang through the load and the drain (the drain time is measured
		// with them hanging), and are released only in after.
		{name: "CRM hangs", opts: clusterOpts{serves: 1, works: 1, scheds: 1, crm: true},
			after: func(t *testing.T, c *cluster, l *load, sz size) string { return c.crm.check(t, c, l, sz.drainFor) }},
		{name: "2 × serve, work, schedule; one of each SIGKILLed", opts: clusterOpts{serves: 2, works: 2, scheds: 2},
			fault: func(t *testing.T, f *faults) {
				if !f.at(0.4) {
					return
				}
				f.c.serves[0].kill()
				f.c.works[0].kill()
				f.c.scheds[0].kill()
			}},
	}
}

// TestChaos runs every scenario at once (they wait more than they compute) and
// checks after each that every acknowledged webhook was stored and applied exactly
// once, that every order is paid, that nothing was oversold and that the ledger
// sums to the counters.
func TestChaos(t *testing.T) {
	sz := chaosSize()
	var wg sync.WaitGroup
	for i, s := range scenarios() {
		wg.Go(func() {
			t.Run(s.name, func(t *testing.T) { runScenario(t, sz, fmt.Sprintf("c%d%d", i, time.Now().UnixNano()%1e6), s) })
		})
	}
	wg.Wait()
	t.Logf("\n%s", report())
}

func runScenario(t *testing.T, sz size, run string, s scenario) {
	c := newCluster(t, s.opts)
	skus := []string{"CHAOS-1", "CHAOS-2", "CHAOS-3", "CHAOS-4"}
	stock := map[string]int{}
	for _, sku := range skus {
		stock[sku] = max(1, sz.orders/len(skus)/2) // half the orders find no stock: they are backordered
		c.setStock(sku, stock[sku])
	}
	dup := sz.dup
	if s.dup != nil {
		dup = s.dup(sz)
	}
	l := newLoad(orderHooks(run, sz.orders, skus), dup)

	ctx, cancel := context.WithTimeout(context.Background(), sz.sendFor)
	defer cancel()
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		if s.fault != nil {
			s.fault(t, &faults{ctx: ctx, c: c, l: l, sz: sz})
		}
	}()
	l.run(ctx, c, sz.concurrency)
	cancel() // a fault still waiting for progress ends now, restoring what it broke
	<-faultDone
	loadEnd := time.Now()

	sources, ids := l.ackedKeys()
	deadline := loadEnd.Add(sz.drainFor)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for c.unapplied(sources, ids) > 0 && time.Now().Before(deadline) {
		<-tick.C
	}
	drain := time.Since(loadEnd)
	note := s.note
	if s.after != nil {
		note = strings.Trim(note+"; "+s.after(t, c, l, sz), "; ")
	}
	orders := l.settledOrders()
	r := result{
		scenario: s.name, sent: len(l.hooks), deliveries: int(l.deliveries.Load()), acked: len(ids),
		refused: l.refusedCount(), refusedDetail: l.refusedSummary(),
		lost: c.unapplied(sources, ids), twice: c.appliedTwice(orders), wrong: c.wrongState(orders),
		oversold: c.oversold(stock), ledger: c.ledgerMismatches(), drain: drain, note: note,
	}
	record(r)
	t.Logf("%s: sent %d, acked %d, refused %s, lost %d, applied twice %d, wrong state %d, oversold %d, ledger≠counters %d, drain %.1fs",
		s.name, r.sent, r.acked, r.refusedDetail, r.lost, r.twice, r.wrong, r.oversold, r.ledger, drain.Seconds())
	if s.honestNeverRefused && r.refused > 0 {
		t.Errorf("honest requests refused beside the hostile ones: %s", r.refusedDetail)
	}
	if r.acked != r.sent {
		t.Errorf("%d of %d webhooks were never acknowledged within %s of retries", r.sent-r.acked, r.sent, sz.sendFor)
	}
	if r.lost != 0 {
		t.Errorf("%d acknowledged webhooks were not stored and applied within %s: %s", r.lost, sz.drainFor, c.describeUnapplied(sources, ids))
	}
	if r.twice != 0 {
		t.Errorf("%d effects applied twice", r.twice)
	}
	if r.lost == 0 && r.wrong != 0 {
		t.Errorf("%d orders with every webhook applied are not paid", r.wrong)
	}
	if r.oversold != 0 {
		t.Errorf("%d units oversold", r.oversold)
	}
	if r.ledger != 0 {
		t.Errorf("%d SKUs whose ledger does not sum to their counters", r.ledger)
	}
}
