package domain

import (
	"testing"
	"time"
)

func TestDerivePaymentStatus(t *testing.T) {
	tests := []struct {
		name  string
		total int64
		p     PaymentTotals
		want  PaymentStatus
	}{
		{"nothing yet", 1000, PaymentTotals{}, PayUnpaid},
		{"authorized", 1000, PaymentTotals{Authorized: 1000}, PayAuthorized},
		{"paid", 1000, PaymentTotals{Authorized: 1000, Captured: 1000}, PayPaid},
		{"partially paid", 1000, PaymentTotals{Captured: 400}, PayPartiallyPaid},
		{"overpaid", 1000, PaymentTotals{Captured: 1200}, PayOverpaid},
		{"partially refunded", 1000, PaymentTotals{Captured: 1000, Refunded: 300}, PayPartiallyRefunded},
		{"refunded", 1000, PaymentTotals{Captured: 1000, Refunded: 1000}, PayRefunded},
		{"disputed wins", 1000, PaymentTotals{Captured: 1000, Disputed: true}, PayDisputed},
		{"order not seen yet counts as paid", 0, PaymentTotals{Captured: 500}, PayPaid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DerivePaymentStatus(tt.total, tt.p); got != tt.want {
				t.Errorf("DerivePaymentStatus(%d, %+v) = %s, want %s", tt.total, tt.p, got, tt.want)
			}
		})
	}
}

func TestNewerSnapshotIsATotalOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    int64
		at   time.Time
		id   string
		cv   int64
		cat  time.Time
		cid  string
		want bool
	}{
		{"higher version wins over later time", 2, t0, "a", 1, t0.Add(time.Hour), "b", true},
		{"lower version loses", 1, t0.Add(time.Hour), "a", 2, t0, "b", false},
		{"same version, later time", 1, t0.Add(time.Second), "a", 1, t0, "b", true},
		{"full tie broken by id", 1, t0, "b", 1, t0, "a", true},
		{"same event is not newer", 1, t0, "a", 1, t0, "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewerSnapshot(tt.v, tt.at, tt.id, tt.cv, tt.cat, tt.cid); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
