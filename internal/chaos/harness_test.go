package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver

	"github.com/tradewind/tradewind/internal/testenv"
)

// binary is the tradewind binary TestMain built for this run.
var binary string

const apiToken = "chaos-token-0123456789abcdef"

// workerConcurrency is each work process's TRADEWIND_WORKER_CONCURRENCY.
const workerConcurrency = 8

// Secrets of the sources every cluster serves (test values).
const (
	stripeSecret  = "whsec_chaos_stripe_secret"
	shopifySecret = "chaos_shopify_client_secret"
	swhSecret     = "whsec_Y2hhb3Mtc3RhbmRhcmQtd2ViaG9va3Mta2V5LTAx"
	wooSecret     = "chaos_woocommerce_secret"
	ptzPassword   = "chaos_powertranz_password"
)

// sourcesYAML names one source per provider the suite sends as. PowerTranz confirms
// callbacks by calling its gateway; api_base_url points at a port nobody serves, so
// the hostile callbacks it accepts are never confirmed (and never applied).
func sourcesYAML(deadPort int) string {
	return fmt.Sprintf(`sources:
  - id: chaos-stripe
    provider: stripe
    secrets: [%q]
  - id: chaos-shopify
    provider: shopify
    secrets: [%q]
  - id: chaos-swh
    provider: standardwebhooks
    secrets: [%q]
  - id: chaos-woo
    provider: woocommerce
    secrets: [%q]
  - id: chaos-ptz
    provider: powertranz
    secrets: [%q]
    powertranz_id: "88800001"
    api_base_url: http://127.0.0.1:%d
`, stripeSecret, shopifySecret, swhSecret, wooSecret, ptzPassword, deadPort)
}

// redisServer is a private redis-server the suite can SIGKILL and restart, with or
// without an append-only file (testenv.Redis runs without persistence only), or a
// replica, a sentinel or a cluster node (redis_test.go).
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	argv []string // redis-server's arguments
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func startRedis(t testing.TB, aof bool) *redisServer {
	t.Helper()
	return runRedis(t, func(port int, dir string) []string {
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir}
		if aof {
			return append(args, "--appendonly", "yes", "--appendfsync", "always")
		}
		return append(args, "--appendonly", "no")
	})
}

// runRedis starts redis-server with the arguments argv gives for its port and directory.
func runRedis(t testing.TB, argv func(port int, dir string) []string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: run the suite with `make test`, which installs it")
	}
	r := &redisServer{t: t, port: testenv.FreePort(t), dir: t.TempDir()}
	r.argv = argv(r.port, r.dir)
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string  { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }
func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	cmd := exec.Command("redis-server", r.argv...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	testenv.Eventually(r.t, 20*time.Second, func() (bool, string) {
		c, err := net.DialTimeout("tcp", r.addr(), 200*time.Millisecond)
		if err != nil {
			return false, "redis-server listening on " + r.addr()
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte("PING\r\n"))
		buf := make([]byte, 7)
		_, err = io.ReadFull(c, buf)
		return err == nil && string(buf) == "+PONG\r\n", "redis-server answering PING (it loads its AOF first)"
	})
}

// kill is SIGKILL: no chance to write anything more.
func (r *redisServer) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// proc is one tradewind process (serve, work or schedule) the suite can kill and start again.
type proc struct {
	c      *cluster
	role   string
	name   string
	listen string   // serve only
	nofile int      // > 0: run under prlimit --nofile
	extra  []string // more environment
	mu     sync.Mutex
	cmd    *exec.Cmd
	starts int
}

func (p *proc) url() string { return "http://" + p.listen }

func (p *proc) start() {
	p.c.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return
	}
	args := []string{binary, p.role}
	if p.nofile > 0 {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			p.c.t.Skip("prlimit (util-linux) is not installed: it lowers the child's open-file limit")
		}
		args = append([]string{prlimit, fmt.Sprintf("--nofile=%d:%d", p.nofile, p.nofile)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), p.c.env()...)
	if p.listen != "" {
		cmd.Env = append(cmd.Env, "TRADEWIND_LISTEN="+p.listen)
	}
	cmd.Env = append(cmd.Env, p.extra...)
	p.starts++
	logf, err := os.OpenFile(filepath.Join(p.c.dir, p.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.c.t.Fatal(err)
	}
	fmt.Fprintf(logf, "---- start %d\n", p.starts)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		p.c.t.Fatalf("start %s: %v", p.name, err)
	}
	logf.Close() // the child holds its own descriptor
	p.cmd = cmd
}

// kill is SIGKILL, mid-whatever-it-was-doing.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// waitServing waits until a serve process answers /healthz.
func (p *proc) waitServing() {
	p.c.t.Helper()
	testenv.Eventually(p.c.t, 60*time.Second, func() (bool, string) {
		resp, err := http.Get(p.url() + "/healthz")
		if err != nil {
			return false, p.name + " to answer /healthz: " + err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, p.name + " to answer /healthz with 200"
	})
}

// cluster is one scenario's world: a database, a Redis and tradewind processes.
type cluster struct {
	t        testing.TB
	dir      string
	dbURL    string // what the processes connect to (through a proxy when pgProxy is set)
	db       *sqlx.DB
	pgProxy  *testenv.Proxy
	redis    *redisServer  // nil with a sentinel set or a Redis Cluster
	sentinel *sentinelSet  // opts.sentinel
	rcluster *redisCluster // opts.redisCluster
	crm      *crmSet       // opts.crm
	redisURL string        // TRADEWIND_REDIS_URL
	sources  string
	serves   []*proc
	works    []*proc
	scheds   []*proc
	// opts.privatePG: the scenario's own PostgreSQL (postgres_test.go)
	pg *testenv.Postgres
}

type clusterOpts struct {
	serves, works, scheds int
	aof                   bool // Redis with an append-only file
	sentinel              bool // a primary, a replica and 3 sentinels; processes find the primary through them
	redisCluster          bool // a Redis Cluster of 3 primaries
	proxyPG               bool // processes reach PostgreSQL through a proxy the scenario can cut
	privatePG             bool // a PostgreSQL cluster of the scenario's own, which it can restart (postgres_test.go)
	serveNofile           int  // prlimit for serve processes
	crm                   bool // webhook destinations that hang until released (crm_test.go)
	serveEnv              []string
	workEnv               []string
}

func newCluster(t testing.TB, o clusterOpts) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir()}
	c.dbURL = c.databaseURL(o)
	db, err := sqlx.Open("postgres", c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c.db = db
	if o.proxyPG {
		u, err := url.Parse(c.dbURL)
		if err != nil {
			t.Fatal(err)
		}
		c.pgProxy = testenv.NewProxy(t, u.Host)
		u.Host = c.pgProxy.Addr()
		c.dbURL = u.String()
	}
	switch {
	case o.sentinel:
		c.sentinel = startSentinelSet(t)
		c.redisURL = c.sentinel.url()
	case o.redisCluster:
		c.rcluster = startRedisCluster(t)
		c.redisURL = c.rcluster.url()
	default:
		c.redis = startRedis(t, o.aof)
		c.redisURL = c.redis.url()
	}
	c.sources = filepath.Join(c.dir, "sources.yaml")
	sources := sourcesYAML(testenv.FreePort(t))
	if o.crm {
		c.crm = startCRMs(t)
		sources += c.crm.yaml()
	}
	if err := os.WriteFile(c.sources, []byte(sources), 0o600); err != nil {
		t.Fatal(err)
	}
	c.migrate()
	for i := range o.serves {
		p := &proc{c: c, role: "serve", name: fmt.Sprintf("serve-%d", i+1), listen: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
			nofile: o.serveNofile, extra: o.serveEnv}
		c.serves = append(c.serves, p)
	}
	for i := range o.works {
		c.works = append(c.works, &proc{c: c, role: "work", name: fmt.Sprintf("work-%d", i+1), extra: o.workEnv})
	}
	for i := range o.scheds {
		c.scheds = append(c.scheds, &proc{c: c, role: "schedule", name: fmt.Sprintf("schedule-%d", i+1)})
	}
	for _, p := range c.all() {
		p.start()
	}
	for _, p := range c.serves {
		p.waitServing()
	}
	t.Cleanup(func() {
		for _, p := range c.all() {
			p.kill()
		}
		if t.Failed() || os.Getenv("TRADEWIND_TEST_LOG") != "" {
			for _, p := range c.all() {
				b, _ := os.ReadFile(filepath.Join(c.dir, p.name+".log"))
				if len(b) > 8000 {
					b = b[len(b)-8000:]
				}
				t.Logf("%s log (tail):\n%s", p.name, b)
			}
		}
	})
	return c
}

func (c *cluster) all() []*proc {
	return append(append(append([]*proc{}, c.serves...), c.works...), c.scheds...)
}

func (c *cluster) env() []string {
	return []string{
		"TRADEWIND_DATABASE_URL=" + c.dbURL,
		"TRADEWIND_REDIS_URL=" + c.redisURL,
		"TRADEWIND_API_TOKEN=" + apiToken,
		"TRADEWIND_SOURCES_FILE=" + c.sources,
		"TRADEWIND_LOG_LEVEL=warn",
		"TRADEWIND_SWEEP_INTERVAL=1s",
		"TRADEWIND_SWEEP_GRACE=2s",
		"TRADEWIND_WORKER_CONCURRENCY=" + strconv.Itoa(workerConcurrency),
		"TRADEWIND_DB_MAX_CONNS=12",
		"TRADEWIND_SHUTDOWN_TIMEOUT=5s",
	}
}

func (c *cluster) migrate() {
	c.t.Helper()
	cmd := exec.Command(binary, "migrate", "up")
	cmd.Env = append(os.Environ(), c.env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("tradewind migrate up: %v\n%s", err, out)
	}
}

// liveServes are the serve processes running now.
func (c *cluster) liveServes() []*proc {
	var out []*proc
	for _, p := range c.serves {
		if p.running() {
			out = append(out, p)
		}
	}
	return out
}

// setStock sets a SKU's on-hand level through the API, as a merchant would.
func (c *cluster) setStock(sku string, onHand int) {
	c.t.Helper()
	body, _ := json.Marshal(map[string]int{"on_hand": onHand})
	req, _ := http.NewRequest(http.MethodPut, c.serves[0].url()+"/api/v1/inventory/"+sku, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("PUT inventory %s = %d %s", sku, resp.StatusCode, b)
	}
}

func (c *cluster) count(q string, args ...any) int {
	c.t.Helper()
	var n int
	if err := c.db.GetContext(context.Background(), &n, q, args...); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
	return n
}
