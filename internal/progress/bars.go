package progress

import (
	"io"
	"sync"
)

// Bars are one Bar per key, made on first use with Options o (and the key as
// Description): e.g. how far each source's reconciliation has got.
type Bars struct {
	w    io.Writer
	o    Options
	mu   sync.Mutex
	bars map[string]Bar
	seq  []Bar
}

// NewBars returns Bars writing to w.
func NewBars(w io.Writer, o Options) *Bars {
	return &Bars{w: w, o: o, bars: map[string]Bar{}}
}

// Set records that n of key's work are done; the total is unknown.
func (b *Bars) Set(key string, n int) {
	b.mu.Lock()
	bar, ok := b.bars[key]
	if !ok {
		o := b.o
		o.Description = key
		bar = New(b.w, -1, o)
		b.bars[key] = bar
		b.seq = append(b.seq, bar)
	}
	b.mu.Unlock()
	bar.Set(int64(n))
}

// Finish finishes every bar, in the order they were made.
func (b *Bars) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, bar := range b.seq {
		bar.Finish()
	}
}
