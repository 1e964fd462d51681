package progress_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/internal/progress"
)

// clock is a fake clock that the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestPlainLines(t *testing.T) {
	tests := []struct {
		name  string
		total int64
		o     progress.Options
		run   func(b progress.Bar, c *clock)
		want  []string
	}{
		{
			name:  "a known total: a line each tenth, none more on finish",
			total: 20,
			o:     progress.Options{Description: "sending", ShowCount: true},
			run: func(b progress.Bar, c *clock) {
				for range 20 {
					c.t = c.t.Add(100 * time.Millisecond)
					b.Add(1)
				}
				b.Finish()
			},
			want: []string{
				"sending: 2/20 (10%), 200ms elapsed", "sending: 4/20 (20%), 400ms elapsed", "sending: 6/20 (30%), 600ms elapsed",
				"sending: 8/20 (40%), 800ms elapsed", "sending: 10/20 (50%), 1s elapsed", "sending: 12/20 (60%), 1s elapsed",
				"sending: 14/20 (70%), 1s elapsed", "sending: 16/20 (80%), 2s elapsed", "sending: 18/20 (90%), 2s elapsed",
				"sending: 20/20 (100%), 2s elapsed",
			},
		},
		{
			name:  "a known total moving slowly: a line every 5 s as well",
			total: 1000,
			o:     progress.Options{Description: "bench", Every: 5 * time.Second},
			run: func(b progress.Bar, c *clock) {
				for range 12 {
					c.t = c.t.Add(time.Second)
					b.Add(1)
				}
				c.t = c.t.Add(time.Second)
				b.Finish()
			},
			want: []string{"bench: 0%, 5s elapsed", "bench: 1%, 10s elapsed", "bench: 100%, 13s elapsed"},
		},
		{
			name:  "an unknown total: a line every 5 s while it moves, and the last one",
			total: -1,
			o:     progress.Options{Description: "acme-stripe", ShowCount: true, Unit: "compared"},
			run: func(b progress.Bar, c *clock) {
				for range 7 {
					c.t = c.t.Add(time.Second)
					b.Set(b.Current() + 100)
				}
				c.t = c.t.Add(time.Minute) // still: nothing to say
				b.Finish()
			},
			want: []string{"acme-stripe: 500 compared, 5s elapsed", "acme-stripe: 700 compared, 1m7s elapsed"},
		},
		{
			name:  "a new description is a line of its own",
			total: 100,
			o:     progress.Options{Description: "ingest baseline"},
			run: func(b progress.Bar, c *clock) {
				b.Set(5)
				b.Describe("ingest baseline") // unchanged: nothing
				b.Describe("ingest tradewind")
				b.Finish()
				b.Describe("after the end") // finished: nothing
			},
			want: []string{"ingest tradewind: 5%, 0s elapsed", "ingest tradewind: 100%, 0s elapsed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 11, 30, 2, 30, 0, 0, time.UTC)}
			var out bytes.Buffer
			tt.o.Now = c.now
			tt.run(progress.New(&out, tt.total, tt.o), c)
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

// Output that is not a terminal gets plain lines without being told to: no
// carriage returns, no ANSI codes, whoever adds from how many goroutines.
func TestNotATerminalGetsNoCarriageReturns(t *testing.T) {
	var out bytes.Buffer
	if progress.IsTerminal(&out) {
		t.Fatal("a bytes.Buffer is a terminal")
	}
	b := progress.New(&out, 1000, progress.Options{Description: "sending", ShowCount: true})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				b.Add(1)
			}
		}()
	}
	wg.Wait()
	b.Finish()
	if strings.ContainsAny(out.String(), "\r\x1b") {
		t.Errorf("output has carriage returns or escape codes: %q", out.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 10 {
		t.Errorf("%d lines, want one a tenth (10):\n%s", n, out.String())
	}
	if b.Current() != 1000 {
		t.Errorf("Current() = %d, want 1000", b.Current())
	}
}

func TestElapsed(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{1500 * time.Microsecond, "2ms"}, {15 * time.Second, "15s"}, {125*time.Second + 400*time.Millisecond, "2m5s"}} {
		if got := progress.Elapsed(tt.d); got != tt.want {
			t.Errorf("Elapsed(%d) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
