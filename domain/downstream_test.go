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
	n := func(v int64) *int64 { return &v }
	d := Destination{Stock: StockPolicy{SafetyBuffer: 2, MaxPublished: n(50)}, SKUStock: map[string]StockOverride{
		"HOT-1":   {SafetyBuffer: n(10), MaxPublished: n(5)},
		"BUFFER":  {SafetyBuffer: n(0)},
		"CAP":     {MaxPublished: n(0)},
		"NOTHING": {},
	}}
	uncapped := Destination{Stock: StockPolicy{SafetyBuffer: 2}, SKUStock: map[string]StockOverride{"CAP": {MaxPublished: n(3)}}}
	tests := []struct {
		name      string
		dest      Destination
		sku       string
		available int64
		want      int64
	}{
		{"destination buffer held back", d, "MUG", 10, 8},
		{"never negative", d, "MUG", 1, 0},
		{"destination cap", d, "MUG", 100, 50},
		{"no cap", uncapped, "MUG", 100, 98},
		{"sku buffer and cap replace the destination's", d, "HOT-1", 12, 2},
		{"sku cap below what is left", d, "HOT-1", 100, 5},
		{"sku buffer only keeps the destination cap", d, "BUFFER", 100, 50},
		{"sku buffer zero", d, "BUFFER", 7, 7},
		{"sku cap zero publishes nothing", d, "CAP", 100, 0},
		{"sku cap only keeps the destination buffer", uncapped, "CAP", 4, 2},
		{"sku cap on an uncapped destination", uncapped, "CAP", 100, 3},
		{"empty override is the destination's", d, "NOTHING", 10, 8},
		{"zero destination", Destination{}, "MUG", 7, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PublishedLevel(tt.available, tt.dest.StockPolicyOf(tt.sku)); got != tt.want {
				t.Errorf("PublishedLevel(%d, policy of %s) = %d, want %d", tt.available, tt.sku, got, tt.want)
			}
		})
	}
}
