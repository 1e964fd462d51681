package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tradewind/tradewind/internal/testenv"
	"github.com/tradewind/tradewind/jobs"
)

const sentinelMaster = "mymaster"

// sentinelSet is a Redis primary, its replica and three sentinels watching them
// (quorum 2), all on loopback: what TRADEWIND_REDIS_URL=redis-sentinel://… names.
type sentinelSet struct {
	t         testing.TB
	primary   *redisServer
	replica   *redisServer
	sentinels []*redisServer
	failedFor time.Duration // from the primary's SIGKILL to the sentinels naming the replica
	promoted  time.Time
}

func startSentinelSet(t testing.TB) *sentinelSet {
	t.Helper()
	server := func(extra ...string) func(port int, dir string) []string {
		return func(port int, dir string) []string {
			return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}, extra...)
		}
	}
	s := &sentinelSet{t: t}
	s.primary = runRedis(t, server())
	s.replica = runRedis(t, server("--replicaof", "127.0.0.1", strconv.Itoa(s.primary.port)))
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: s.replica.addr()})
	defer rc.Close()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		info, _ := rc.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up"), "the replica in sync with the primary"
	})
	for range 3 {
		s.sentinels = append(s.sentinels, runRedis(t, func(port int, dir string) []string {
			conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites it: its own file
			body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
				"sentinel monitor %s 127.0.0.1 %d 2\n"+
				"sentinel down-after-milliseconds %[3]s 1000\n"+
				"sentinel failover-timeout %[3]s 3000\n"+
				"sentinel parallel-syncs %[3]s 1\n", port, dir, sentinelMaster, s.primary.port)
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{conf, "--sentinel"}
		}))
	}
	// Sentinels find each other through the primary's hello channel (every 2 s) and
	// the replica through its INFO: wait until each knows the whole set.
	for _, sn := range s.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: sn.addr()})
		testenv.Eventually(t, 60*time.Second, func() (bool, string) {
			m, err := sc.Master(ctx, sentinelMaster).Result()
			return err == nil && m["num-slaves"] == "1" && m["num-other-sentinels"] == "2",
				fmt.Sprintf("sentinel %s to know the replica and the 2 other sentinels (it says %v, %v)", sn.addr(), m, err)
		})
		sc.Close()
	}
	return s
}

func (s *sentinelSet) url() string {
	var addrs []string
	for _, sn := range s.sentinels {
		addrs = append(addrs, sn.addr())
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "/0?master=" + sentinelMaster
}

// primaryAddr is the primary's address as the sentinels name it now (the first that answers).
func (s *sentinelSet) primaryAddr(ctx context.Context) string {
	for _, sn := range s.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: sn.addr()})
		addr, err := sc.GetMasterAddrByName(ctx, sentinelMaster).Result()
		sc.Close()
		if err == nil && len(addr) == 2 {
			return addr[0] + ":" + addr[1]
		}
	}
	return ""
}

// failover SIGKILLs the primary and waits until every sentinel names the replica.
// It runs beside the load (not in the test's goroutine): it reports with Errorf.
func (s *sentinelSet) failover() {
	ctx := context.Background()
	killed := time.Now()
	s.primary.kill()
	deadline := killed.Add(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		all := true
		for _, sn := range s.sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: sn.addr()})
			addr, err := sc.GetMasterAddrByName(ctx, sentinelMaster).Result()
			sc.Close()
			all = all && err == nil && len(addr) == 2 && addr[0]+":"+addr[1] == s.replica.addr()
		}
		if all {
			s.promoted = time.Now()
			s.failedFor = s.promoted.Sub(killed)
			return
		}
		<-tick.C
	}
	s.t.Errorf("the sentinels did not promote the replica %s within 60 s of the primary's SIGKILL (they name %q)",
		s.replica.addr(), s.primaryAddr(ctx))
}

// checkFollowed checks that each Tradewind piece holding its own Redis client works
// against the promoted replica: the serve process's go-redis client (/readyz) and its
// Asynq inspector (the queue-depth gauge of /metrics, which fails the scrape when
// Redis does not answer), and in the work process the scheduler's tasks run by the
// Asynq server, claiming their window with SET NX through its go-redis client
// (jobs.Periodic). Returns a note for the table.
func (s *sentinelSet) checkFollowed(t *testing.T, c *cluster) string {
	t.Helper()
	if s.promoted.IsZero() {
		return "no failover"
	}
	serve := c.liveServes()[0]
	get := func(path string) (int, string) {
		resp, err := http.Get(serve.url() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := get("/readyz")
		return code == http.StatusOK, fmt.Sprintf("serve's /readyz to answer 200 after the failover (it answers %d %s)", code, body)
	})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := get("/metrics")
		return code == http.StatusOK && strings.Contains(body, "tradewind_queue_depth{"),
			fmt.Sprintf("serve's /metrics to answer 200 with tradewind_queue_depth after the failover (it answers %d)", code)
	})
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: s.replica.addr()})
	defer rc.Close()
	after := s.promoted.Unix() // TRADEWIND_SWEEP_INTERVAL=1s: a window is a Unix second
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		keys, _ := rc.Keys(ctx, "tradewind:cron:inbox:sweep:*").Result()
		for _, k := range keys {
			w, err := strconv.ParseInt(k[strings.LastIndexByte(k, ':')+1:], 10, 64)
			if err == nil && w > after {
				return true, ""
			}
		}
		return false, fmt.Sprintf("an inbox sweep claimed on the promoted replica for a window after %d (keys %v)", after, keys)
	})
	return fmt.Sprintf("replica promoted %.1f s after the primary's SIGKILL", s.failedFor.Seconds())
}

// redisCluster is a Redis Cluster of three primaries (no replicas) on loopback.
type redisCluster struct {
	nodes []*redisServer
}

func startRedisCluster(t testing.TB) *redisCluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatal("redis-cli is not installed (it creates the cluster): Debian's redis-server package brings it (redis-tools)")
	}
	rc := &redisCluster{}
	for range 3 {
		rc.nodes = append(rc.nodes, runRedis(t, func(port int, dir string) []string {
			return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
				"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"}
		}))
	}
	args := []string{"--cluster", "create"}
	for _, n := range rc.nodes {
		args = append(args, n.addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	ctx := context.Background()
	for _, n := range rc.nodes {
		c := redis.NewClient(&redis.Options{Addr: n.addr()})
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			info, err := c.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok"), "cluster_state:ok on " + n.addr()
		})
		c.Close()
	}
	return rc
}

func (rc *redisCluster) url() string {
	var addrs []string
	for _, n := range rc.nodes {
		addrs = append(addrs, n.addr())
	}
	return "redis-cluster://" + strings.Join(addrs, ",")
}

// replayOne marks the last applied webhook failed (as a worker that gave up leaves it),
// runs `tradewind replay <id>` with the processes' TRADEWIND_REDIS_URL and waits until
// the worker applied it again; the suite's checks then see it applied once. Replay
// builds its own Asynq client: this proves it reads the URL as Main does.
//
// The last one, not the first: a task being worked on when the primary died can
// sit "active" on the promoted replica (its completion never reached it), holding
// the task id until its 30 s lease expired and Asynq's recoverer put it in retry
// ("asynq: task lease expired"); a replay meanwhile finds the entry "already queued"
// (jobs.EnqueueEntry), and it is applied only when that retry comes due.
func (c *cluster) replayOne(t *testing.T) string {
	t.Helper()
	var id int64
	if err := c.db.Get(&id, `
		UPDATE inbox SET status = 'failed'
		WHERE id = (SELECT max(id) FROM inbox WHERE status = 'applied' AND source = 'chaos-stripe')
		RETURNING id`); err != nil {
		t.Fatalf("mark an applied webhook failed: %v", err)
	}
	cmd := exec.Command(binary, "replay", strconv.FormatInt(id, 10))
	cmd.Env = append(os.Environ(), c.env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tradewind replay %d with TRADEWIND_REDIS_URL=%s: %v\n%s", id, c.redisURL, err, out)
	}
	// `tradewind replay deliveries` builds its own client the same way (nothing to queue here).
	cmd = exec.Command(binary, "replay", "deliveries", "--destination", "chaos-nowhere", "--status", "dead")
	cmd.Env = append(os.Environ(), c.env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tradewind replay deliveries with TRADEWIND_REDIS_URL=%s: %v\n%s", c.redisURL, err, out)
	}
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		var status string
		_ = c.db.Get(&status, `SELECT status FROM inbox WHERE id = $1`, id)
		if status == "applied" {
			return true, ""
		}
		return false, fmt.Sprintf("replayed webhook %d to be applied again (it is %q; its task: %s)", id, status, c.taskState(id))
	})
	return "`tradewind replay` through it"
}

// asynqOpt reaches the cluster's Redis as the processes do.
func (c *cluster) asynqOpt() asynq.RedisConnOpt {
	switch {
	case c.sentinel != nil:
		var addrs []string
		for _, sn := range c.sentinel.sentinels {
			addrs = append(addrs, sn.addr())
		}
		return asynq.RedisFailoverClientOpt{MasterName: sentinelMaster, SentinelAddrs: addrs}
	case c.rcluster != nil:
		var addrs []string
		for _, n := range c.rcluster.nodes {
			addrs = append(addrs, n.addr())
		}
		return asynq.RedisClusterClientOpt{Addrs: addrs}
	}
	return asynq.RedisClientOpt{Addr: c.redis.addr()}
}

// taskState says where the Asynq task of inbox entry id is, for failure messages.
func (c *cluster) taskState(id int64) string {
	in := asynq.NewInspector(c.asynqOpt())
	defer in.Close()
	queues, err := in.Queues()
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, q := range queues {
		if info, err := in.GetTaskInfo(q, jobs.ProcessWebhookTaskID(id)); err == nil {
			out = append(out, fmt.Sprintf("%s in queue %s, retried %d, last error %q, deadline %s", info.State, q, info.Retried, info.LastErr, info.Deadline.Format(time.RFC3339)))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}
