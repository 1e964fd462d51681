package reconcile

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/progress"
)

// BenchParams size the reconciliation benchmark.
type BenchParams struct {
	Orders int // provider records in the window (1,000,000 for the target)
	// MissingEvery leaves one in MissingEvery of them out of Tradewind's side (20: 5%).
	MissingEvery int
	// Progress, when set, hears how many have been compared.
	Progress func(compared int)
}

// BenchResult is what the benchmark measured: the streaming comparison and,
// beside it, a plain sorted merge of the same two lists held in memory.
type BenchResult struct {
	Orders          int           `json:"orders"`
	Missing         int           `json:"missing"`
	Compared        int           `json:"compared"`
	Streaming       time.Duration `json:"streaming_ns"`
	StreamingPeakMB float64       `json:"streaming_peak_rss_mib"`
	Baseline        time.Duration `json:"baseline_ns"`
	BaselinePeakMB  float64       `json:"baseline_peak_rss_mib"`
	PeakResettable  bool          `json:"peak_rss_reset_between_runs"`
}

// String is the result for a person.
func (r BenchResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reconcile: %d orders, %d missing on Tradewind's side\n", r.Orders, r.Missing)
	fmt.Fprintf(&b, "  streaming (Stripe API over loopback, merged with a keyset stream): %8.2fs  peak RSS %7.1f MiB  (target < 60 s, < 256 MiB)\n",
		r.Streaming.Seconds(), r.StreamingPeakMB)
	fmt.Fprintf(&b, "  baseline  (both lists in memory, sorted, merged):                  %8.2fs  peak RSS %7.1f MiB\n",
		r.Baseline.Seconds(), r.BaselinePeakMB)
	if !r.PeakResettable {
		b.WriteString("  (peak RSS could not be reset between the runs: the baseline's figure includes the streaming run's)\n")
	}
	return b.String()
}

// benchEventsPerSecond is how many listed events share one creation second.
const benchEventsPerSecond = 10

// benchBase is the newest event's creation time.
var benchBase = time.Date(2026, 11, 30, 2, 30, 0, 0, time.UTC)

// benchEvent is the i-th newest event of the fake listing: ten a second, newest
// first; within a second Stripe's own order (here: ids descending).
func benchEvent(i int) (id string, created time.Time) {
	sec, k := i/benchEventsPerSecond, i%benchEventsPerSecond
	return fmt.Sprintf("evt_%09d_%d", sec, benchEventsPerSecond-1-k), benchBase.Add(-time.Duration(sec) * time.Second)
}

// Bench compares Orders provider records with Tradewind's: once as the
// reconciliation does it (the provider's listing read page by page through the
// Stripe client from a fake Stripe API on loopback, which makes each page up as
// it is asked for; Tradewind's side a stream in the same key order, as the
// inbox's keyset cursor yields it), and once as a plain sorted merge of the two
// lists built in memory. It reports the time and the peak RSS of each.
func Bench(ctx context.Context, p BenchParams) (BenchResult, error) {
	if p.Orders < 1 {
		return BenchResult{}, fmt.Errorf("orders must be at least 1")
	}
	if p.MissingEvery < 2 {
		p.MissingEvery = 20
	}
	res := BenchResult{Orders: p.Orders}
	missing := func(i int) bool { return i%p.MissingEvery == p.MissingEvery/2 }
	srv := httptest.NewServer(benchListing(p.Orders))
	defer srv.Close()

	runtime.GC()
	res.PeakResettable = resetPeakRSS()
	start := time.Now()
	api := &stripe.API{BaseURL: srv.URL, Key: "sk_bench", HTTP: srv.Client()}
	theirs := inEventOrder(api.Events(ctx, benchBase.Add(-time.Duration(p.Orders)*time.Second), benchBase, nil), nil, stripeHead)
	ours := func(yield func(domain.HeldEntry, error) bool) {
		// Tradewind's side in (created desc, id asc): the keyset cursor's order.
		for sec := 0; sec*benchEventsPerSecond < p.Orders; sec++ {
			for k := benchEventsPerSecond - 1; k >= 0; k-- {
				i := sec*benchEventsPerSecond + k
				if i >= p.Orders || missing(i) {
					continue
				}
				id, at := benchEvent(i)
				if !yield(domain.HeldEntry{ID: int64(i + 1), EventID: id, EventType: "payment_intent.succeeded", OccurredAt: at}, nil) {
					return
				}
			}
		}
	}
	err := Merge(ctx, theirs, iter.Seq2[domain.HeldEntry, error](ours),
		func(t listedEvent, u domain.HeldEntry) int {
			return eventOrder(t.Created, t.ID, u.OccurredAt, u.EventID)
		},
		func(t *listedEvent, u *domain.HeldEntry) error {
			res.Compared++
			if u == nil {
				res.Missing++
			}
			if p.Progress != nil && res.Compared%10000 == 0 {
				p.Progress(res.Compared)
			}
			return nil
		})
	if err != nil {
		return res, err
	}
	res.Streaming = time.Since(start)
	res.StreamingPeakMB = peakRSS()

	// Baseline: both lists in memory (the provider's as its JSON pages decode
	// them), sorted, merged.
	runtime.GC()
	debug.FreeOSMemory()
	res.PeakResettable = resetPeakRSS() && res.PeakResettable
	start = time.Now()
	type key struct {
		at int64
		id string
	}
	var theirList, ourList []key
	for raw, err := range api.Events(ctx, benchBase.Add(-time.Duration(p.Orders)*time.Second), benchBase, nil) {
		if err != nil {
			return res, err
		}
		h, err := stripe.Head(raw)
		if err != nil {
			return res, err
		}
		theirList = append(theirList, key{h.Created.Unix(), h.ID})
	}
	for i := range p.Orders {
		if !missing(i) {
			id, at := benchEvent(i)
			ourList = append(ourList, key{at.Unix(), id})
		}
	}
	byKey := func(a, b key) int { return cmp.Or(cmp.Compare(b.at, a.at), cmp.Compare(a.id, b.id)) }
	slices.SortFunc(theirList, byKey)
	slices.SortFunc(ourList, byKey)
	baseMissing, i, j := 0, 0, 0
	for i < len(theirList) {
		if j >= len(ourList) {
			baseMissing, i = baseMissing+1, i+1
			continue
		}
		switch c := byKey(theirList[i], ourList[j]); {
		case c < 0:
			baseMissing, i = baseMissing+1, i+1
		case c > 0:
			j++
		default:
			i, j = i+1, j+1
		}
	}
	res.Baseline = time.Since(start)
	res.BaselinePeakMB = peakRSS()
	if baseMissing != res.Missing {
		return res, fmt.Errorf("the baseline found %d missing, the reconciliation %d", baseMissing, res.Missing)
	}
	return res, nil
}

// benchListing is a fake GET /v1/events that makes up each page as it is
// asked for (nothing held), in Stripe's list shape.
func benchListing(n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit < 1 || limit > 100 {
			limit = 10
		}
		start := 0
		if after := q.Get("starting_after"); after != "" {
			var sec, k int
			if _, err := fmt.Sscanf(after, "evt_%09d_%d", &sec, &k); err != nil {
				http.Error(w, `{"error":{"message":"no such object"}}`, http.StatusBadRequest)
				return
			}
			start = sec*benchEventsPerSecond + (benchEventsPerSecond - 1 - k) + 1
		}
		end := min(start+limit, n)
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriter(w)
		bw.WriteString(`{"object":"list","url":"/v1/events","has_more":` + strconv.FormatBool(end < n) + `,"data":[`)
		for i := start; i < end; i++ {
			if i > start {
				bw.WriteByte(',')
			}
			id, at := benchEvent(i)
			obj, _ := json.Marshal(map[string]any{"id": "pi_" + id[4:], "object": "payment_intent", "amount": 1000 + i%5000,
				"amount_received": 1000 + i%5000, "currency": "usd", "status": "succeeded", "metadata": map[string]string{"order_ref": strconv.Itoa(i)}})
			fmt.Fprintf(bw, `{"id":%q,"object":"event","type":"payment_intent.succeeded","created":%d,"data":{"object":%s}}`, id, at.Unix(), obj)
		}
		bw.WriteString(`]}`)
		bw.Flush()
	})
}

// resetPeakRSS resets the kernel's peak RSS mark of this process (Linux:
// /proc/self/clear_refs), so the next peakRSS is the peak from now on.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS is the process's peak resident set (VmHWM) in MiB, or 0 where unknown.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// RunBench is `tradewind bench reconcile`: Bench with its progress shown on
// stderr, then its result printed to stdout.
func RunBench(ctx context.Context, stdout, stderr io.Writer, p BenchParams) error {
	bar := progress.New(stderr, int64(p.Orders), progress.Options{Description: "compared", ShowCount: true})
	p.Progress = func(n int) { bar.Set(int64(n)) }
	res, err := Bench(ctx, p)
	bar.Finish()
	fmt.Fprint(stdout, res)
	return err
}
