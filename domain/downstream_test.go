package domain

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOrderEvents(t *testing.T) {
	placed := DownstreamFacts{Placed: true, Content: "a", Status: StatusPlaced, PaymentStatus: PayUnpaid}
	with := func(f func(*DownstreamFacts)) DownstreamFacts { c := placed; f(&c); return c }
	tests := []struct {
		name          string
		before, after DownstreamFacts
		want          []DownstreamType
	}{
		{"nothing told yet, placed", DownstreamFacts{}, placed, []DownstreamType{DownOrderPlaced}},
		{"the same facts again", placed, placed, nil},
		{"paid", placed, with(func(f *DownstreamFacts) { f.PaymentStatus = PayPaid }), []DownstreamType{DownOrderPaid}},
		{"overpaid after paid is not paid again", with(func(f *DownstreamFacts) { f.PaymentStatus = PayPaid }),
			with(func(f *DownstreamFacts) { f.PaymentStatus = PayOverpaid }), nil},
		{"payment before the order", DownstreamFacts{}, DownstreamFacts{PaymentStatus: PayPaid, Status: StatusPending}, []DownstreamType{DownOrderPaid}},
		{"snapshot changed", placed, with(func(f *DownstreamFacts) { f.Content = "b" }), []DownstreamType{DownOrderUpdated}},
		{"refunded more", placed, with(func(f *DownstreamFacts) { f.Refunded = 5 }), []DownstreamType{DownOrderRefunded}},
		{"disputed", placed, with(func(f *DownstreamFacts) { f.Disputed = true }), []DownstreamType{DownOrderDisputed}},
		{"cancelled with a new snapshot", placed, with(func(f *DownstreamFacts) { f.Status, f.Content = StatusCancelled, "c" }),
			[]DownstreamType{DownOrderUpdated, DownOrderCancelled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, OrderEvents(tt.before, tt.after)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBackoffDoublesWithinBounds(t *testing.T) {
	full := func(d time.Duration) time.Duration { return d }
	zero := func(time.Duration) time.Duration { return 0 }
	tests := []struct {
		name   string
		n      int
		jitter func(time.Duration) time.Duration
		want   time.Duration
	}{
		{"first retry", 1, full, time.Second},
		{"third", 3, full, 4 * time.Second},
		{"capped", 30, full, 10 * time.Second},
		{"jitter never below min", 4, zero, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Backoff(tt.n, time.Second, 10*time.Second, tt.jitter); got != tt.want {
				t.Errorf("Backoff(%d) = %s, want %s", tt.n, got, tt.want)
			}
		})
	}
}

func TestStockChanges(t *testing.T) {
	before := map[string]SKUStock{"A": {OnHand: 5, Reserved: 1}, "B": {OnHand: 5}}
	after := map[string]SKUStock{"A": {OnHand: 4}, "B": {OnHand: 4}, "C": {OnHand: 1}}
	if diff := cmp.Diff([]string{"B", "C"}, StockChanges(before, after)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPublishedLevel(t *testing.T) {
	tests := []struct {
		name                           string
		available, buffer, capAt, want int64
	}{
		{"buffer held back", 10, 2, -1, 8},
		{"never negative", 1, 2, -1, 0},
		{"capped", 100, 2, 20, 20},
		{"cap above", 5, 0, 20, 5},
		{"cap zero", 5, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PublishedLevel(tt.available, tt.buffer, tt.capAt); got != tt.want {
				t.Errorf("PublishedLevel(%d, %d, %d) = %d, want %d", tt.available, tt.buffer, tt.capAt, got, tt.want)
			}
		})
	}
}
