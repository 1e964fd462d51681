package chaos

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradewind/tradewind/internal/testenv"
)

// databaseURL is the database a scenario's processes use: a fresh database in the
// shared cluster, or with opts.privatePG the postgres database of a cluster of the
// scenario's own (testenv.StartPostgres), which the scenario may restart.
func (c *cluster) databaseURL(o clusterOpts) string {
	if !o.privatePG {
		return testenv.DatabaseURL(c.t)
	}
	c.pg = testenv.StartPostgres(c.t)
	c.t.Cleanup(func() {
		if c.t.Failed() || os.Getenv("TRADEWIND_TEST_LOG") != "" {
			c.t.Logf("private PostgreSQL log (tail):\n%s", c.pg.ServerLog(60))
		}
	})
	return c.pg.URL()
}

// pgRestarts records the restarts of a scenario's private cluster for its note.
type pgRestarts struct {
	mu   sync.Mutex
	down []time.Duration
}

// pgRestart is a scenario on a private PostgreSQL cluster that is restarted
// (pg_ctl restart -m mode) when the load is at each of fractions: "fast" disconnects
// every client and checkpoints, "immediate" is a crash that PostgreSQL recovers from
// on its next start. Its note says how long PostgreSQL was down; after an immediate
// restart it checks that PostgreSQL did recover from its WAL.
func pgRestart(name, mode string, fractions ...float64) scenario {
	var r pgRestarts
	fault := func(t *testing.T, f *faults) {
		for _, at := range fractions {
			if !f.at(at) {
				return
			}
			down, err := f.c.pg.Restart(mode)
			if err != nil {
				t.Errorf("restart PostgreSQL (-m %s) at %.0f%% of the load: %v", mode, 100*at, err)
				return
			}
			r.mu.Lock()
			r.down = append(r.down, down)
			r.mu.Unlock()
		}
	}
	after := func(t *testing.T, c *cluster, _ *load, _ size) string {
		checkRecovered(t, c)
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.down) < len(fractions) {
			t.Errorf("PostgreSQL was restarted %d times, want %d", len(r.down), len(fractions))
		}
		var secs []string
		for _, d := range r.down {
			secs = append(secs, fmt.Sprintf("%.1f s", d.Seconds()))
		}
		note := fmt.Sprintf("`pg_ctl restart -m %s` at %s of the load; down %s", mode, percents(fractions), strings.Join(secs, ", "))
		if mode == "immediate" {
			if log := c.pg.ServerLog(500); !strings.Contains(log, "not properly shut down; automatic recovery in progress") {
				t.Errorf("PostgreSQL did not recover from a crash after `pg_ctl restart -m immediate` (its log):\n%s", c.pg.ServerLog(40))
			} else {
				note += "; recovered from its WAL"
			}
		}
		return note
	}
	return scenario{name: name, opts: clusterOpts{serves: 1, works: 1, scheds: 1, privatePG: true}, fault: fault, after: after}
}

// checkRecovered checks that every process outlived PostgreSQL's restarts (none
// exited on a lost connection) and that each serve process is ready again: /readyz
// answers 200 once PostgreSQL and Redis answer it.
func checkRecovered(t *testing.T, c *cluster) {
	t.Helper()
	for _, p := range c.all() {
		if state := p.state(); state != "running" {
			t.Errorf("%s did not outlive PostgreSQL's restart: it is %s", p.name, state)
		}
	}
	for _, p := range c.liveServes() {
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			resp, err := http.Get(p.url() + "/readyz")
			if err != nil {
				return false, p.name + "'s /readyz to answer after PostgreSQL's restart: " + err.Error()
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, fmt.Sprintf("%s's /readyz to answer 200 after PostgreSQL's restart (it answers %d %s)", p.name, resp.StatusCode, b)
		})
	}
}

// state says whether the process the suite started is still running, from
// /proc/<pid>/stat (an exited child the suite has not waited for is a zombie, Z).
func (p *proc) state() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return "stopped by the scenario"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return "gone: " + err.Error()
	}
	// pid (comm) state ...: comm may hold spaces, the state follows its last ')'.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return "exited (a zombie)"
	}
	return "running"
}

func percents(fs []float64) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%.0f%%", 100*f))
	}
	return strings.Join(out, " and ")
}
