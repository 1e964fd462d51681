package domain

import (
	"strings"
	"testing"
	"time"
)

func TestComparePayment(t *testing.T) {
	t.Parallel()
	paid := PaymentHeldState(0, 1000, 0, "USD", false)
	tests := []struct {
		name      string
		theirs    HeldState
		ours      *HeldState
		want      Finding
		detailHas []string
	}{
		{"same", paid, &paid, Agree, nil},
		{"not held, paid there", paid, nil, Missing, []string{"paid 1000 USD"}},
		{"not held, unpaid there", PaymentHeldState(0, 0, 0, "USD", false), nil, Agree, nil},
		{"not held, failed there", PaymentHeldState(0, 0, 0, "USD", true), nil, Missing, []string{"failed"}},
		{"refunded there, paid here", PaymentHeldState(0, 1000, 1000, "USD", false), &paid, Mismatch, []string{"provider refunded", "Tradewind paid"}},
		{"partly refunded there", PaymentHeldState(0, 1000, 400, "USD", false), &paid, Mismatch, []string{"partially_refunded"}},
		{"amounts differ", PaymentHeldState(0, 1200, 0, "USD", false), &paid, Mismatch, []string{"provider 1200 USD", "Tradewind 1000 USD"}},
		{"currencies differ", PaymentHeldState(0, 1000, 0, "EUR", false), &paid, Mismatch, []string{"provider EUR", "Tradewind USD"}},
		{"authorized both", PaymentHeldState(500, 0, 0, "USD", false), ptr(PaymentHeldState(500, 0, 0, "USD", false)), Agree, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, detail := ComparePayment("pi_1", tt.theirs, tt.ours)
			if got != tt.want {
				t.Errorf("finding %d; want %d (%s)", got, tt.want, detail)
			}
			for _, s := range tt.detailHas {
				if !strings.Contains(detail, s) {
					t.Errorf("detail %q; want it to name %q", detail, s)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestCompareOrder(t *testing.T) {
	t.Parallel()
	placed := OrderSnapshot{Status: StatusPlaced, Currency: "USD", Total: 1000}
	tests := []struct {
		name string
		ours *Order
		want Finding
	}{
		{"unknown here", nil, Missing},
		{"known only from a payment", &Order{Status: StatusPending}, Missing},
		{"same", &Order{Status: StatusPlaced, Currency: "USD", Total: 1000}, Agree},
		{"confirmed is placed and paid", &Order{Status: StatusConfirmed, Currency: "USD", Total: 1000}, Agree},
		{"total differs", &Order{Status: StatusPlaced, Currency: "USD", Total: 900}, Mismatch},
		{"cancelled here", &Order{Status: StatusCancelled, Currency: "USD", Total: 1000}, Mismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, detail := CompareOrder("1001", placed, tt.ours); got != tt.want {
				t.Errorf("finding %d; want %d (%s)", got, tt.want, detail)
			}
		})
	}
}

func TestReconciliationConflict(t *testing.T) {
	t.Parallel()
	for f, kind := range map[Finding]string{Mismatch: ConflictReconciliationMismatch, Unknown: ConflictUnknownToProvider, Agree: "", Missing: ""} {
		ch, ok := ReconciliationConflict(f, "d", time.Unix(0, 0), "")
		if ok != (kind != "") || ch.Kind != kind || (ok && ch.State != ConflictOpen) {
			t.Errorf("finding %d: %+v, %v; want kind %q open", f, ch, ok, kind)
		}
	}
}

func TestCompareStorefrontOrder(t *testing.T) {
	t.Parallel()
	theirs := func(st PaymentStatus, refunded bool) StorefrontOrder {
		return StorefrontOrder{Ref: "1001", Version: 2000, Snapshot: OrderSnapshot{Status: StatusPlaced, Currency: "USD", Total: 1000},
			PaymentStatus: st, Refunded: refunded}
	}
	held := func(version int64, st PaymentStatus) *Order {
		return &Order{Ref: "1001", Status: StatusPlaced, Currency: "USD", Total: 1000, Version: version, PaymentStatus: st}
	}
	tests := []struct {
		name      string
		theirs    StorefrontOrder
		ours      *Order
		want      Finding
		repair    OrderRepair
		detailHas []string
	}{
		{"same", theirs(PayPaid, false), held(2000, PayPaid), Agree, OrderRepair{}, nil},
		{"not held", theirs(PayPaid, false), nil, Missing, OrderRepair{Snapshot: true, Paid: true}, []string{"Tradewind does not"}},
		{"not held, refunded", theirs(PayRefunded, true), nil, Missing, OrderRepair{Snapshot: true, Paid: true, Refunds: true}, nil},
		{"known from a payment only", theirs(PayUnpaid, false), &Order{Status: StatusPending}, Missing, OrderRepair{Snapshot: true}, nil},
		{"older version here", theirs(PayUnpaid, false), held(1000, PayUnpaid), Missing, OrderRepair{Snapshot: true}, []string{"version 2000", "Tradewind 1000"}},
		{"paid there", theirs(PayPaid, false), held(2000, PayUnpaid), Missing, OrderRepair{Paid: true}, []string{"storefront paid", "Tradewind unpaid"}},
		{"refund listed", theirs(PayRefunded, true), held(2000, PayPaid), Missing, OrderRepair{Refunds: true}, nil},
		{"refunded, refund not listed", theirs(PayRefunded, false), held(2000, PayPaid), Mismatch, OrderRepair{}, []string{"storefront refunded", "Tradewind paid"}},
		{"unpaid there, paid here", theirs(PayUnpaid, false), held(2000, PayPaid), Mismatch, OrderRepair{}, []string{"storefront unpaid", "Tradewind paid"}},
		{"disputed here is beyond the storefront", theirs(PayPaid, false), held(2000, PayDisputed), Agree, OrderRepair{}, nil},
		{"storefront states no payment", theirs("", false), held(2000, PayPaid), Agree, OrderRepair{}, nil},
		{"total differs at the same version", StorefrontOrder{Ref: "1001", Version: 2000, Snapshot: OrderSnapshot{Status: StatusPlaced, Currency: "USD", Total: 1250}},
			held(2000, PayUnpaid), Mismatch, OrderRepair{}, []string{"storefront 1250", "Tradewind 1000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, repair, detail := CompareStorefrontOrder(tt.theirs, tt.ours)
			if got != tt.want || repair != tt.repair {
				t.Errorf("finding %d, repair %+v; want %d, %+v (%s)", got, repair, tt.want, tt.repair, detail)
			}
			for _, s := range tt.detailHas {
				if !strings.Contains(detail, s) {
					t.Errorf("detail %q; want it to name %q", detail, s)
				}
			}
		})
	}
}

func TestRefOrder(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want int
	}{{"9", "10", -1}, {"10", "9", 1}, {"820982911946154508", "820982911946154508", 0}, {"1001", "1002", -1}} {
		if got := RefOrder(tt.a, tt.b); got != tt.want {
			t.Errorf("RefOrder(%q, %q) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
