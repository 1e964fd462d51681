package domain

import "testing"

func TestDesiredAllocation(t *testing.T) {
	tests := []struct {
		name string
		f    OrderFacts
		want string
	}{
		{"placed, unpaid", OrderFacts{Status: StatusPlaced, PaymentStatus: PayUnpaid}, AllocReserved},
		{"placed, authorized", OrderFacts{Status: StatusPlaced, PaymentStatus: PayAuthorized}, AllocReserved},
		{"placed, paid", OrderFacts{Status: StatusPlaced, PaymentStatus: PayPaid}, AllocCommitted},
		{"partially paid stays reserved", OrderFacts{Status: StatusPlaced, PaymentStatus: PayPartiallyPaid}, AllocReserved},
		{"failed payment releases", OrderFacts{Status: StatusPlaced, PaymentStatus: PayUnpaid, FailedOnly: true}, AllocNone},
		{"cancelled releases", OrderFacts{Status: StatusCancelled, PaymentStatus: PayPaid}, AllocNone},
		{"fulfilled commits even unpaid", OrderFacts{Status: StatusFulfilled, PaymentStatus: PayUnpaid}, AllocCommitted},
		{"refunded without restock stays committed", OrderFacts{Status: StatusPlaced, PaymentStatus: PayRefunded}, AllocCommitted},
		{"refunded with restock returns", OrderFacts{Status: StatusPlaced, PaymentStatus: PayRefunded, Restocked: true}, AllocNone},
		{"pending holds nothing", OrderFacts{Status: StatusPending, PaymentStatus: PayPaid}, AllocNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DesiredAllocation(tt.f); got != tt.want {
				t.Errorf("DesiredAllocation(%+v) = %q, want %q", tt.f, got, tt.want)
			}
		})
	}
}
