package chaos

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/internal/testenv"
)

// TestTwoSchedulersFireOncePerWindow: two `schedule` processes each queue the inbox
// sweep every second (TRADEWIND_SWEEP_INTERVAL=1s) and two workers take them; the
// sweep runs at most once per one-second window.
func TestTwoSchedulersFireOncePerWindow(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{works: 2, scheds: 2, workEnv: []string{"TRADEWIND_LOG_LEVEL=debug"}})
	type line struct {
		Msg    string `json:"msg"`
		Task   string `json:"task"`
		Window int64  `json:"window"`
	}
	var runs map[int64]int
	var skipped int
	count := func() {
		runs, skipped = map[int64]int{}, 0
		for _, w := range c.works {
			b, _ := os.ReadFile(filepath.Join(c.dir, w.name+".log"))
			for _, raw := range strings.Split(string(b), "\n") {
				var l line
				if json.Unmarshal([]byte(raw), &l) != nil || l.Task != "inbox:sweep" {
					continue
				}
				switch l.Msg {
				case "periodic task runs":
					runs[l.Window]++
				case "periodic task skipped: it ran in this window":
					skipped++
				}
			}
		}
	}
	// The second scheduler starts again after the first sweep ran. (Asynq's @every
	// fires on whole seconds, so both usually fire together and the fixed task id
	// already keeps the second copy out; the window claim, tested in jobs, covers
	// clock skew between hosts and copies that arrive after the first one finished.)
	c.scheds[1].kill()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) { count(); return len(runs) > 0, "a first sweep" })
	c.scheds[1].start()
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		count()
		return len(runs) >= 8, "the sweep to run in 8 windows"
	})
	t.Logf("sweep ran in %d windows; %d copies skipped as already run in their window", len(runs), skipped)
	for w, n := range runs {
		if n != 1 {
			t.Errorf("window %d: the sweep ran %d times, want once", w, n)
		}
	}
}
