package chaos

import (
	"fmt"
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
	after := func(t *testing.T, c *cluster) string {
		// The suite's own pool may hold connections from before the restarts: drop them.
		c.db.SetMaxIdleConns(0)
		c.db.SetMaxIdleConns(2)
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

func percents(fs []float64) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%.0f%%", 100*f))
	}
	return strings.Join(out, " and ")
}
