package postgres_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

// TestMoneyFactsStoreFaithfully: what the domain decides about lost disputes, failed
// refunds and refunds restocked line by line is what storage loads and writes, in
// whichever order the facts arrive.
func TestMoneyFactsStoreFaithfully(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := &postgres.Ledger{DB: db}
	dispute := func(b builder, status, outcome string, stage, sec int) domain.Event {
		ev := b.payment(domain.DisputeOpened, "dispute-"+status, sec, 0)
		if outcome != domain.DisputeOpen && outcome != "" {
			ev.Type = domain.DisputeClosed
		}
		ev.Payment, ev.Dispute = nil, &domain.Dispute{Ref: "dp_" + b.ref, Amount: 300, Currency: "USD", Status: status, Outcome: outcome, Stage: stage}
		return ev
	}
	tests := []struct {
		name    string
		events  func(b builder) []domain.Event
		wantPay string
		want    string
		onHand  int64
		causes  []string
	}{
		{"a second chargeback after the reversal is lost, whatever the order", func(b builder) []domain.Event {
			return []domain.Event{dispute(b, "second_chargeback", domain.DisputeLost, 5, 40), dispute(b, "chargeback_reversed", domain.DisputeWon, 4, 30),
				dispute(b, "chargeback", domain.DisputeOpen, 2, 20)}
		}, "charged_back", "committed:3", 7, []string{"storefront_set", "order", "payment"}},
		{"an adapter that states no outcome: closed with status lost is lost (PayPal)", func(b builder) []domain.Event {
			ev := dispute(b, "lost", domain.DisputeLost, 0, 30)
			ev.Dispute.Outcome = ""
			return []domain.Event{dispute(b, "open", "", 0, 20), ev}
		}, "charged_back", "committed:3", 7, []string{"storefront_set", "order", "payment"}},
		{"a reversal after the chargeback is won", func(b builder) []domain.Event {
			return []domain.Event{dispute(b, "chargeback_reversed", domain.DisputeWon, 4, 30), dispute(b, "chargeback", domain.DisputeOpen, 2, 20)}
		}, "paid", "committed:3", 7, []string{"storefront_set", "order", "payment"}},
		{"a refund that failed before it arrived stops counting", func(b builder) []domain.Event {
			failed := b.refund("r1", 31, 300, false)
			failed.Type, failed.EventID = domain.RefundFailed, b.ref+":r1-failed"
			return []domain.Event{failed, b.refund("r1", 30, 300, false)}
		}, "paid", "committed:3", 7, []string{"storefront_set", "order", "payment"}},
		{"a partial refund restocks its line once, through the ledger", func(b builder) []domain.Event {
			r := b.refund("r1", 30, 100, false)
			r.Payment.RestockLines = []domain.RestockLine{{SKU: b.sku, Quantity: 1}}
			again := r
			again.EventID += ":again" // the same refund reported twice
			return []domain.Event{r, again}
		}, "partially_refunded", "committed:2", 8, []string{"storefront_set", "order", "payment", "refund"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := builder{ref: "M" + string(rune('A'+i)), sku: "SKU-M" + string(rune('A'+i)), t0: t0}
			apply(t, db, l, b.stock("stock", 0, 10))
			apply(t, db, l, b.order(domain.OrderPlaced, "placed", 1, domain.StatusPlaced, 3, 100))
			apply(t, db, l, b.payment(domain.PaymentSucceeded, "paid", 10, 300))
			for _, ev := range tt.events(b) {
				apply(t, db, l, ev)
			}
			s := readState(t, db, b.ref, b.sku)
			var causes []string
			if err := db.Select(&causes, `SELECT cause FROM stock_ledger WHERE sku = $1 ORDER BY id`, b.sku); err != nil {
				t.Fatal(err)
			}
			got := []any{s.PaymentStatus, s.Alloc, s.OnHand, causes}
			if diff := cmp.Diff([]any{tt.wantPay, tt.want, tt.onHand, tt.causes}, got); diff != "" {
				t.Errorf("payment status, allocation, on_hand, ledger causes (-want +got):\n%s", diff)
			}
			checkLedger(t, db)
		})
	}
}
