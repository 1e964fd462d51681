package httpapi

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// The overview's charts, drawn on the server as SVG: no script, no library, no
// CDN (the dashboard's CSP allows none). Bars are computed here in numbers; the
// template only places them.

type chartBar struct {
	X, Y, W, H float64
	Class      string // outcome-applied, outcome-failed, …
	Title      string // the tooltip: hour, outcome, count
}

type chartAxis struct {
	X     float64
	Label string
}

type chart struct {
	Width, Height float64
	Bars          []chartBar
	Axis          []chartAxis
	Max           int
	Legend        []string
}

type sourceActivity struct {
	Source   string
	Total    int
	Failed   int
	Rejected int
	Last     time.Time
	Quiet    string // why the source is flagged as quiet; "" when it is not
}

const (
	chartW, chartH = 960.0, 180.0
	chartHours     = 24
)

// outcomeOf groups an hourly count's status for the chart.
func outcomeOf(status string) string {
	if len(status) > 9 && status[:9] == "rejected:" {
		return "rejected"
	}
	return status
}

var chartOutcomes = []string{"applied", "received", "ignored", "failed", "rejected"}

// hourlyChart stacks each hour's webhooks by outcome, for the chartHours hours up
// to now.
func hourlyChart(counts []domain.HourCount, now time.Time) chart {
	start := now.UTC().Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
	per := make([]map[string]int, chartHours)
	for i := range per {
		per[i] = map[string]int{}
	}
	for _, c := range counts {
		i := int(c.Hour.Sub(start) / time.Hour)
		if i >= 0 && i < chartHours {
			per[i][outcomeOf(c.Status)] += c.N
		}
	}
	max := 1
	for _, m := range per {
		t := 0
		for _, n := range m {
			t += n
		}
		max = maxInt(max, t)
	}
	ch := chart{Width: chartW, Height: chartH + 20, Max: max, Legend: chartOutcomes}
	w := chartW / chartHours
	for i, m := range per {
		y := chartH
		hour := start.Add(time.Duration(i) * time.Hour)
		for _, o := range chartOutcomes {
			if m[o] == 0 {
				continue
			}
			h := float64(m[o]) / float64(max) * (chartH - 10)
			y -= h
			ch.Bars = append(ch.Bars, chartBar{X: float64(i)*w + 1, Y: y, W: w - 2, H: h, Class: "outcome-" + o,
				Title: hour.Format("15:04") + " UTC: " + strconv.Itoa(m[o]) + " " + o})
		}
		if i%3 == 0 {
			ch.Axis = append(ch.Axis, chartAxis{X: float64(i)*w + 2, Label: hour.Format("15h")})
		}
	}
	return ch
}

// activity sums each source's last chartHours hours and flags a source that has
// gone quiet for longer than usual: nothing for more than three times its usual
// gap between busy hours (and at least three hours), though it was busy before.
func activity(counts []domain.HourCount, now time.Time) []sourceActivity {
	by := map[string]*sourceActivity{}
	hours := map[string][]time.Time{}
	for _, c := range counts {
		a := by[c.Source]
		if a == nil {
			a = &sourceActivity{Source: c.Source}
			by[c.Source] = a
		}
		a.Total += c.N
		switch outcomeOf(c.Status) {
		case "failed":
			a.Failed += c.N
		case "rejected":
			a.Rejected += c.N
		}
		if c.Hour.After(a.Last) {
			a.Last = c.Hour
		}
		if !slices.Contains(hours[c.Source], c.Hour) {
			hours[c.Source] = append(hours[c.Source], c.Hour)
		}
	}
	nowHour := now.UTC().Truncate(time.Hour)
	var out []sourceActivity
	for src, a := range by {
		hs := hours[src]
		sort.Slice(hs, func(i, j int) bool { return hs[i].Before(hs[j]) })
		if len(hs) >= 3 {
			gaps := make([]time.Duration, 0, len(hs)-1)
			for i := 1; i < len(hs); i++ {
				gaps = append(gaps, hs[i].Sub(hs[i-1]))
			}
			slices.Sort(gaps)
			usual := gaps[len(gaps)/2]
			silent := nowHour.Sub(a.Last)
			if silent > 3*usual && silent >= 3*time.Hour {
				a.Quiet = "nothing for " + silent.String() + "; usually every " + usual.String()
			}
		}
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// hourWindow is where the overview's 24 hours start: the hour 23 hours before now's.
func hourWindow(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
}

// hourlyTTL is how long the overview reuses its counts: counting a day of a
// busy inbox (a million webhooks) takes about a second, and the charts need not
// be fresher than this.
const hourlyTTL = 30 * time.Second

// hourlyCache keeps the last HourlyCounts, so reloads and several people on the
// overview cost one count. Past hourlyTTL the counts are still shown while one
// recount runs in the background (a day of a million webhooks takes about a
// second to count): only the first overview after start waits for a count.
type hourlyCache struct {
	mu         sync.Mutex
	at         time.Time
	counts     []domain.HourCount
	refreshing bool
}

func (h *hourlyCache) get(ctx context.Context, ops domain.OpsReader, now time.Time) ([]domain.HourCount, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fresh := now.Sub(h.at) < hourlyTTL && !now.Before(h.at)
	switch {
	case h.counts != nil && fresh:
		return h.counts, nil
	case h.counts != nil && hourWindow(h.at).Equal(hourWindow(now)):
		if !h.refreshing {
			h.refreshing = true
			go h.refresh(ops, now)
		}
		return h.counts, nil
	}
	counts, err := ops.HourlyCounts(ctx, hourWindow(now))
	if err != nil {
		return nil, err
	}
	h.store(counts, now)
	return h.counts, nil
}

func (h *hourlyCache) refresh(ops domain.OpsReader, now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	counts, err := ops.HourlyCounts(ctx, hourWindow(now))
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refreshing = false
	if err == nil {
		h.store(counts, now)
	}
}

func (h *hourlyCache) store(counts []domain.HourCount, now time.Time) {
	if counts == nil {
		counts = []domain.HourCount{}
	}
	h.counts, h.at = counts, now
}

// statusCounts sums hourly counts by inbox status (refused requests aside).
func statusCounts(hourly []domain.HourCount, err error) (map[string]int, error) {
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, c := range hourly {
		if outcomeOf(c.Status) == c.Status {
			out[c.Status] += c.N
		}
	}
	return out, nil
}

// queueRow is one Asynq queue on the overview: tasks waiting and how long the
// oldest has waited.
type queueRow struct {
	Queue string
	Depth int
	Lag   time.Duration
	Slow  bool // waited over a minute (the TradewindQueueLag alert's threshold)
}

// queueBacklogs is what a Backlog reader offers per queue (jobs.WebhookQueue does).
type queueBacklogs interface {
	BacklogByQueue(ctx context.Context) (map[string]int, error)
}

// queueRows reads each queue's depth and lag within 2 seconds; what cannot be
// read is left out (the overview's "tasks queued" card says why).
func (s *Server) queueRows(ctx context.Context) []queueRow {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rows := map[string]*queueRow{}
	row := func(q string) *queueRow {
		if rows[q] == nil {
			rows[q] = &queueRow{Queue: q}
		}
		return rows[q]
	}
	if b, ok := s.p.Backlog.(queueBacklogs); ok {
		if depths, err := b.BacklogByQueue(ctx); err == nil {
			for q, n := range depths {
				row(q).Depth = n
			}
		}
	}
	if s.p.QueueLatency != nil {
		if lat, err := s.p.QueueLatency(ctx); err == nil {
			for q, d := range lat {
				r := row(q)
				r.Lag, r.Slow = d.Round(time.Second), d > time.Minute
			}
		}
	}
	out := make([]queueRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out
}
