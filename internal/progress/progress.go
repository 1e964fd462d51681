// Package progress shows how far long command-line work has got: schollz/progressbar's
// bar when the output is a terminal, and plain lines otherwise — a log file, a pipe,
// a CI job — which would otherwise fill with the bar's carriage-return frames.
//
// `tradewind simulate`, `tradewind bench` and `tradewind reconcile` all report
// through it, so that they behave alike.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Options shape a Bar. The zero value is a bar without a description.
type Options struct {
	// Description names the work ("sending", a source id); Describe changes it.
	Description string
	// ShowCount shows how many of the total are done (n/total, or n when the total
	// is unknown), followed by Unit. Without it only the share done is shown, for
	// totals that mean nothing to a reader (bench's milliseconds).
	ShowCount bool
	// Unit follows the count in plain lines, e.g. "compared".
	Unit string
	// Width is the terminal bar's width; 0 for progressbar's default.
	Width int
	// ClearOnFinish removes the terminal bar when it finishes. Plain lines stay.
	ClearOnFinish bool

	// Every is the longest a plain line waits while the work moves (default 5s);
	// with a known total there is also one each time another tenth is done.
	Every time.Duration
	// Now is the clock of plain lines (default time.Now); tests pin it.
	Now func() time.Time
	// Plain forces plain lines whatever the writer is.
	Plain bool
}

// Bar reports progress towards a total. Its methods are safe for concurrent use.
type Bar interface {
	// Add records n more done.
	Add(n int64)
	// Set records that n are done.
	Set(n int64)
	// Current is how many are done.
	Current() int64
	// Describe changes what the work is called; a plain bar writes a line for it.
	Describe(description string)
	// Finish ends the bar: a terminal bar is completed (or cleared), a plain one
	// writes its last line.
	Finish()
}

// IsTerminal reports whether w writes to a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// New starts a Bar writing to w for total units of work (-1 when the total is
// unknown): a progress bar when w is a terminal, plain lines otherwise.
func New(w io.Writer, total int64, o Options) Bar {
	if o.Plain || !IsTerminal(w) {
		return newPlain(w, total, o)
	}
	opts := []progressbar.Option{progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(o.Description),
		progressbar.OptionThrottle(100 * time.Millisecond)}
	if o.ShowCount {
		opts = append(opts, progressbar.OptionShowCount())
	}
	if o.Width > 0 {
		opts = append(opts, progressbar.OptionSetWidth(o.Width))
	}
	if o.ClearOnFinish {
		opts = append(opts, progressbar.OptionClearOnFinish())
	}
	return &terminal{bar: progressbar.NewOptions64(total, opts...), w: w, clear: o.ClearOnFinish}
}

type terminal struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	clear bool
	once  sync.Once
}

func (t *terminal) Add(n int64)          { _ = t.bar.Add64(n) }
func (t *terminal) Set(n int64)          { _ = t.bar.Set64(n) }
func (t *terminal) Current() int64       { return t.bar.State().CurrentNum }
func (t *terminal) Describe(desc string) { t.bar.Describe(desc) }

func (t *terminal) Finish() {
	t.once.Do(func() {
		_ = t.bar.Finish()
		if !t.clear {
			fmt.Fprintln(t.w) // the next output starts on a line of its own
		}
	})
}

// plain writes a line when another tenth of a known total is done, when Every has
// passed since the last line and the work has moved, when the description changes,
// and when it finishes.
type plain struct {
	mu       sync.Mutex
	w        io.Writer
	o        Options
	total    int64
	started  time.Time
	cur      int64
	tenths   int64 // tenths of the total done at the last line
	lastAt   time.Time
	lastN    int64
	written  bool // a line has been written
	finished bool
}

func newPlain(w io.Writer, total int64, o Options) *plain {
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now()
	return &plain{w: w, o: o, total: total, started: now, lastAt: now}
}

func (p *plain) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.moved(p.cur + n)
}

func (p *plain) Set(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.moved(n)
}

func (p *plain) Current() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

func (p *plain) Describe(desc string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if desc == p.o.Description || p.finished {
		return
	}
	p.o.Description = desc
	p.line(p.o.Now())
}

func (p *plain) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	if p.total > 0 && p.cur < p.total {
		p.cur = p.total // as progressbar's Finish does
	}
	if !p.written || p.cur != p.lastN {
		p.line(p.o.Now())
	}
	p.finished = true
}

// moved records n done and writes a line when one is due. p.mu is held.
func (p *plain) moved(n int64) {
	if p.finished {
		return
	}
	p.cur = n
	now := p.o.Now()
	if p.total > 0 && p.cur*10/p.total > p.tenths {
		p.line(now)
		return
	}
	if p.cur != p.lastN && now.Sub(p.lastAt) >= p.o.Every {
		p.line(now)
	}
}

// line writes the state as one line. p.mu is held.
func (p *plain) line(now time.Time) {
	var b strings.Builder
	if p.o.Description != "" {
		b.WriteString(p.o.Description)
		b.WriteString(": ")
	}
	switch {
	case p.o.ShowCount && p.total > 0:
		fmt.Fprintf(&b, "%d/%d", p.cur, p.total)
	case p.o.ShowCount:
		fmt.Fprintf(&b, "%d", p.cur)
	}
	if p.o.ShowCount && p.o.Unit != "" {
		b.WriteString(" " + p.o.Unit)
	}
	if p.total > 0 {
		pct := min(100, p.cur*100/p.total)
		if p.o.ShowCount {
			fmt.Fprintf(&b, " (%d%%)", pct)
		} else {
			fmt.Fprintf(&b, "%d%%", pct)
		}
		p.tenths = p.cur * 10 / p.total
	}
	fmt.Fprintf(&b, ", %s elapsed\n", Elapsed(now.Sub(p.started)))
	_, _ = io.WriteString(p.w, b.String())
	p.lastAt, p.lastN, p.written = now, p.cur, true
}

// Elapsed is d as a person reads it: "850ms" under a second, else whole seconds
// ("15s", "2m5s").
func Elapsed(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
