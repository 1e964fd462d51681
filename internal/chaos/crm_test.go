package chaos

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
)

// The CRM destinations of the "CRM hangs" scenario: two webhook destinations on
// loopback that hang until released. crmHTTP takes the request and never answers
// (its handler blocks); crmTCP accepts the connection and never reads from it.
const (
	crmHTTP       = "crm-hangs"
	crmTCP        = "crm-blackhole"
	crmSecretHTTP = "whsec_Y2hhb3MtY3JtLWhhbmdzLXNpZ25pbmcta2V5" // test values
	crmSecretTCP  = "whsec_Y2hhb3MtY3JtLWJsYWNraG9sZS1rZXktMDE="
	crmTimeout    = 2 * time.Second // each destination's timeout
	crmFailures   = 5               // breaker_failures
	crmCooldown   = 3 * time.Second // breaker_cooldown
	crmMaxBackoff = 2 * time.Second
)

// crmReceiver is one hanging CRM. Until release it hangs every request; then it
// answers 200 to each request whose Standard Webhooks signature verifies (401
// otherwise) and counts the 200s per webhook-id.
type crmReceiver struct {
	id       string
	key      []byte
	url      string
	released chan struct{}
	once     sync.Once
	hung     atomic.Int64 // requests (or connections) held while hanging
	bad      atomic.Int64 // requests answered 401: the signature did not verify
	mu       sync.Mutex
	got      map[string]int      // webhook-id → 200 answers
	log      map[string][]string // webhook-id → when and from where each was answered 200
	close    func()
}

func (r *crmReceiver) release() { r.once.Do(func() { close(r.released) }) }

func (r *crmReceiver) isReleased() bool {
	select {
	case <-r.released:
		return true
	default:
		return false
	}
}

// answer verifies and counts one request once released.
func (r *crmReceiver) answer(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if err := stdwebhooks.VerifyKeys([][]byte{r.key}, req.Header, body, time.Now(), stdwebhooks.Tolerance); err != nil {
		r.bad.Add(1)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	id := req.Header.Get(stdwebhooks.IDHeader)
	r.got[id]++
	r.log[id] = append(r.log[id], time.Now().Format("15:04:05.000000")+" from "+req.RemoteAddr+" signed at "+req.Header.Get(stdwebhooks.TimestampHeader))
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func newCRMReceiver(t testing.TB, id, secret string) *crmReceiver {
	key, err := stdwebhooks.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return &crmReceiver{id: id, key: key, released: make(chan struct{}), got: map[string]int{}, log: map[string][]string{}}
}

// startHangingHTTP is a receiver whose handler blocks, without reading the
// request, until it is released or the sender gives up.
func startHangingHTTP(t testing.TB) *crmReceiver {
	r := newCRMReceiver(t, crmHTTP, crmSecretHTTP)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.isReleased() {
			r.hung.Add(1)
			select {
			case <-r.released:
				// A request that hung is not taken: its sender may have given up
				// (a 200 it never read would count as a second receipt).
				http.Error(w, "hung", http.StatusServiceUnavailable)
			case <-req.Context().Done(): // the sender timed out and closed the connection
			}
			return
		}
		r.answer(w, req)
	}))
	r.url = srv.URL + "/crm"
	r.close = func() { r.release(); srv.Close() }
	t.Cleanup(r.close)
	return r
}

// startBlackhole is a receiver that accepts connections and never reads from
// them until released; connections accepted after that are served over HTTP, and
// the held ones are closed (their senders gave up long ago, or fail now).
func startBlackhole(t testing.TB) *crmReceiver {
	r := newCRMReceiver(t, crmTCP, crmSecretTCP)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gated := &gateListener{Listener: ln, conns: make(chan net.Conn), done: make(chan struct{})}
	var held []net.Conn
	var heldMu sync.Mutex
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				close(gated.done)
				return
			}
			heldMu.Lock() // the release closes what is held under it: nothing is held after
			if !r.isReleased() {
				r.hung.Add(1)
				held = append(held, conn)
				heldMu.Unlock()
				continue
			}
			heldMu.Unlock()
			select {
			case gated.conns <- conn:
			case <-gated.done:
				conn.Close()
				return
			}
		}
	}()
	go func() {
		<-r.released
		heldMu.Lock()
		defer heldMu.Unlock()
		for _, c := range held {
			c.Close()
		}
		held = nil
	}()
	srv := &http.Server{Handler: http.HandlerFunc(r.answer), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(gated) }()
	r.url = "http://" + ln.Addr().String() + "/crm"
	r.close = func() {
		r.release()
		_ = srv.Close() // closes ln too: the accept loop ends
	}
	t.Cleanup(r.close)
	return r
}

// gateListener hands the HTTP server only the connections the accept loop lets through.
type gateListener struct {
	net.Listener
	conns chan net.Conn
	done  chan struct{}
}

func (g *gateListener) Accept() (net.Conn, error) {
	select {
	case c := <-g.conns:
		return c, nil
	case <-g.done:
		return nil, net.ErrClosed
	}
}

// crmSet is the cluster's hanging CRMs.
type crmSet struct {
	receivers []*crmReceiver
}

func startCRMs(t testing.TB) *crmSet {
	return &crmSet{receivers: []*crmReceiver{startHangingHTTP(t), startBlackhole(t)}}
}

// yaml is the destinations section naming the receivers: a 2 s timeout, short
// backoffs, a short breaker cooldown and attempts to spare.
func (s *crmSet) yaml() string {
	var b strings.Builder
	b.WriteString("destinations:\n")
	secrets := map[string]string{crmHTTP: crmSecretHTTP, crmTCP: crmSecretTCP}
	for _, r := range s.receivers {
		fmt.Fprintf(&b, `  - id: %s
    kind: webhook
    url: %s
    secrets: [%q]
    timeout: %s
    min_backoff: 100ms
    max_backoff: %s
    max_attempts: 200
    breaker_failures: %d
    breaker_cooldown: %s
`, r.id, r.url, secrets[r.id], crmTimeout, crmMaxBackoff, crmFailures, crmCooldown)
	}
	return b.String()
}

func (s *crmSet) ids() []string {
	var out []string
	for _, r := range s.receivers {
		out = append(out, r.id)
	}
	return out
}

// check runs once the webhooks drained with the CRMs still hanging. It checks that
// every acknowledged webhook was applied while they hung, and that deliveries did
// time out meanwhile (so the workers kept applying webhooks beside them); then it
// releases the CRMs and checks that every delivery ends delivered, received exactly
// once per (destination, webhook-id), none pending, failed or dead. Returns a note.
func (s *crmSet) check(t *testing.T, c *cluster, l *load, drainFor time.Duration) string {
	t.Helper()
	dests := pq.Array(s.ids())
	timedOut := func() map[string]int {
		var rows []struct {
			Destination string `db:"destination"`
			N           int    `db:"n"`
		}
		if err := c.db.Select(&rows, `
			SELECT d.destination, count(*) AS n FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE d.destination = ANY($1) AND a.error LIKE 'no answer within the timeout%'
			GROUP BY d.destination`, dests); err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, r := range rows {
			out[r.Destination] = r.N
		}
		return out
	}
	// With the CI size the load may end before each breaker saw its failures:
	// hang until it did, so the breaker's opening is part of every run.
	var tos map[string]int
	if !pollUntil(time.Now().Add(2*time.Minute), func() bool {
		tos = timedOut()
		enough := true
		for _, id := range s.ids() {
			enough = enough && tos[id] >= crmFailures
		}
		return enough
	}) {
		t.Errorf("the CRMs hung for 2 min after the load, but deliveries timed out only %v times (want %d per destination): no delivery was attempted?",
			tos, crmFailures)
	}
	sources, ids := l.ackedKeys()
	if n := c.unapplied(sources, ids); n > 0 {
		t.Errorf("payments were slowed to a halt: %d acknowledged webhooks were not applied within %s while the CRMs hung: %s",
			n, drainFor, c.describeUnapplied(sources, ids))
	}
	hung := 0
	for _, r := range s.receivers {
		hung += int(r.hung.Load())
	}
	var breakers []string
	if err := c.db.Select(&breakers, `SELECT id || ' ' || breaker FROM destinations WHERE id = ANY($1) ORDER BY id`, dests); err != nil {
		t.Fatal(err)
	}
	peak, w := c.workersBlocked(s.ids())
	if peak > workerConcurrency/2 {
		// The worker sends at most half its concurrency of deliveries at once
		// (jobs.Deliver.MaxInFlight): the rest of it is the payments'.
		t.Errorf("the hanging CRMs held %d of the worker's %d slots at once; want at most %d", peak, workerConcurrency, workerConcurrency/2)
	}
	t.Logf("CRMs hung: %d requests held, timed-out attempts %v, breakers %v; %d acknowledged webhooks applied meanwhile; %s",
		hung, tos, breakers, len(ids), w)

	released := time.Now()
	for _, r := range s.receivers {
		r.release()
	}
	type status struct {
		Destination string `db:"destination"`
		Status      string `db:"status"`
		N           int    `db:"n"`
	}
	open := func() (int, []status) {
		var rows []status
		if err := c.db.Select(&rows, `
			SELECT destination, status, count(*) AS n FROM deliveries WHERE destination = ANY($1)
			GROUP BY destination, status ORDER BY destination, status`, dests); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rows {
			if r.Status != "delivered" {
				n += r.N
			}
		}
		return n, rows
	}
	// The breaker lets one probe through a cooldown after it opened, and failed
	// deliveries wait their backoff: a bound for failing, not the time it takes.
	if !pollUntil(released.Add(drainFor), func() bool { n, _ := open(); return n == 0 }) {
		n, rows := open()
		t.Errorf("%d deliveries not delivered %s after the CRMs were released (by status: %+v): %s", n, drainFor, rows, c.describeOpenDeliveries(s.ids()))
	}
	deliveredIn := time.Since(released)
	_, rows := open()

	total, timeouts := 0, 0
	for _, r := range rows {
		total += r.N
	}
	for _, n := range timedOut() {
		timeouts += n
	}
	for _, r := range s.receivers {
		var webhookIDs []string
		if err := c.db.Select(&webhookIDs, `SELECT webhook_id FROM deliveries WHERE destination = $1 AND status = 'delivered'`, r.id); err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		got := make(map[string]int, len(r.got))
		for k, v := range r.got {
			got[k] = v
		}
		r.mu.Unlock()
		want := map[string]bool{}
		var missing, twice, extra []string
		for _, id := range webhookIDs {
			if want[id] {
				twice = append(twice, id+" (two delivery rows)")
			}
			want[id] = true
			switch got[id] {
			case 0:
				missing = append(missing, id)
			case 1:
			default:
				twice = append(twice, fmt.Sprintf("%s ×%d", id, got[id]))
			}
		}
		for id := range got {
			if !want[id] {
				extra = append(extra, id)
			}
		}
		for _, id := range twice {
			id, _, _ = strings.Cut(id, " ")
			r.mu.Lock()
			t.Logf("%s: %s received: %s; its attempts: %s", r.id, id, strings.Join(r.log[id], "; "), c.describeAttempts(r.id, id))
			r.mu.Unlock()
		}
		if len(missing)+len(twice)+len(extra) > 0 {
			t.Errorf("%s: %d deliveries delivered, %d distinct webhook-ids received; marked delivered but never received: %s; received more than once: %s; received but not delivered: %s",
				r.id, len(webhookIDs), len(got), firstFew(missing), firstFew(twice), firstFew(extra))
		}
		if n := r.bad.Load(); n > 0 {
			t.Errorf("%s: %d requests whose Standard Webhooks signature did not verify", r.id, n)
		}
		t.Logf("%s: %d deliveries delivered, %d distinct webhook-ids received, %d connections or requests held while it hung",
			r.id, len(webhookIDs), len(got), r.hung.Load())
	}
	// Every paid order is told downstream: an order.paid delivery per destination.
	if n := c.count(`
		SELECT count(*) FROM unnest($1::text[]) AS o(ref) CROSS JOIN unnest($2::text[]) AS d(id)
		WHERE NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.destination = d.id AND x.order_ref = o.ref
		                  AND x.event_type = 'order.paid' AND x.status = 'delivered')`,
		pq.Array(l.settledOrders()), dests); n > 0 {
		t.Errorf("%d (order, destination) pairs with the order paid but no order.paid delivered", n)
	}
	return fmt.Sprintf("2 webhook destinations (HTTP never answered; TCP never read; timeout %s) hung through the load and the drain: %d attempts timed out, "+
		"%s; then released: all %d deliveries delivered once, %.1f s later", crmTimeout, timeouts, w, total, deliveredIn.Seconds())
}

// workersBlocked says how many workers the hanging CRMs held at most at once
// (attempts in flight together, from their recorded end and latency), how many
// webhooks were applied while at least one attempt hung, and the longest pause
// between two applies.
func (c *cluster) workersBlocked(dests []string) (int, string) {
	var peak, during int
	var pause float64
	if err := c.db.QueryRow(`
		WITH spans AS (
			SELECT a.at - a.latency_ms * interval '1 millisecond' AS began, a.at AS ended
			FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE d.destination = ANY($1) AND a.error LIKE 'no answer within the timeout%'),
		edges AS (SELECT began AS t, 1 AS d FROM spans UNION ALL SELECT ended, -1 FROM spans),
		levels AS (SELECT sum(d) OVER (ORDER BY t, d) AS n FROM edges),
		applied AS (SELECT applied_at FROM inbox WHERE applied_at IS NOT NULL),
		gaps AS (SELECT applied_at - lag(applied_at) OVER (ORDER BY applied_at) AS gap FROM applied)
		SELECT COALESCE((SELECT max(n) FROM levels), 0),
		       (SELECT count(*) FROM applied WHERE EXISTS (SELECT 1 FROM spans WHERE applied_at BETWEEN began AND ended)),
		       COALESCE((SELECT extract(epoch FROM max(gap)) FROM gaps), 0)`, pq.Array(dests)).Scan(&peak, &during, &pause); err != nil {
		c.t.Fatal(err)
	}
	return peak, fmt.Sprintf("at most %d of %d worker slots waiting on them at once, %d webhooks applied while one waited, longest pause between two applies %.1f s",
		peak, workerConcurrency, during, pause)
}

// describeAttempts lists the attempts of the delivery of webhookID to dest.
func (c *cluster) describeAttempts(dest, webhookID string) string {
	var rows []string
	if err := c.db.Select(&rows, `
		SELECT 'delivery ' || d.id || ' ' || d.event_type || ' ' || d.status || ' created ' || to_char(d.created_at, 'HH24:MI:SS.US') ||
		       ' delivered ' || COALESCE(to_char(d.delivered_at, 'HH24:MI:SS.US'), '-') ||
		       ' attempt ' || a.n || ' at ' || to_char(a.at, 'HH24:MI:SS.US') || ' status ' || a.status_code ||
		       ' latency ' || a.latency_ms || 'ms error ' || a.error
		FROM deliveries d LEFT JOIN delivery_attempts a ON a.delivery_id = d.id
		WHERE d.destination = $1 AND d.webhook_id = $2 ORDER BY a.n`, dest, webhookID); err != nil {
		return err.Error()
	}
	return strings.Join(rows, "; ")
}

// describeOpenDeliveries says, for a few deliveries not delivered, where they are.
func (c *cluster) describeOpenDeliveries(dests []string) string {
	var rows []string
	if err := c.db.Select(&rows, `
		SELECT id || ' ' || destination || ' ' || event_type || ' ' || status || ', attempts ' || attempts ||
		       ', last error ' || last_error || ', next at ' || COALESCE(next_attempt_at::text, '-') || ', queued at ' || COALESCE(queued_at::text, '-')
		FROM deliveries WHERE destination = ANY($1) AND status <> 'delivered' ORDER BY id LIMIT 5`, pq.Array(dests)); err != nil {
		return err.Error()
	}
	return strings.Join(rows, "; ")
}

func firstFew(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	sort.Strings(s)
	if len(s) > 5 {
		return fmt.Sprintf("%s … (%d in all)", strings.Join(s[:5], ", "), len(s))
	}
	return strings.Join(s, ", ")
}

// pollUntil polls cond until it holds (true) or deadline passes (false).
func pollUntil(deadline time.Time, cond func() bool) bool {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
