package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/shopify"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// TestOwnLevelDoesNotAbsorbLaterSalesInItsSecond: a level set through the API is
// stamped at its arrival; sales that arrive after it are taken out of it even
// when their provider timestamps (whole seconds) fall in the same second or before.
func TestOwnLevelDoesNotAbsorbLaterSalesInItsSecond(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), allRoles)
	sec := time.Now().Truncate(time.Second) // the providers' whole second, at or before the level
	if code := api(t, m, http.MethodPut, "/api/v1/inventory/SKU-TIE", map[string]int{"on_hand": 50}, nil); code != http.StatusOK {
		t.Fatalf("PUT inventory = %d", code)
	}
	const orders = 5
	for i := range orders {
		ref := fmt.Sprint(9500 + i)
		e.send(m, delivery{shopifySource, shopify.TopicOrdersCreate, webhook.SampleOptions{EventID: "tie-o" + ref, OrderRef: ref, SKU: "SKU-TIE", Quantity: 1, Amount: 100, Now: sec}})
		e.send(m, delivery{testSource, "payment_intent.succeeded", webhook.SampleOptions{EventID: "evt_tie" + ref, OrderRef: ref, Amount: 100, Now: sec}})
	}
	for i := range orders {
		ref := fmt.Sprint(9500 + i)
		testenv.Eventually(t, 15*time.Second, func() (bool, string) {
			var o struct {
				PaymentStatus string `json:"payment_status"`
				Lines         []any  `json:"lines"`
			}
			api(t, m, http.MethodGet, "/api/v1/orders/"+ref, nil, &o)
			return o.PaymentStatus == "paid" && len(o.Lines) == 1, fmt.Sprintf("order %s placed and paid (have %+v)", ref, o)
		})
	}
	var st domain.Stock
	api(t, m, http.MethodGet, "/api/v1/inventory/SKU-TIE", nil, &st)
	if want := (domain.Stock{SKU: "SKU-TIE", OnHand: 50 - orders, Reserved: 0, Available: 50 - orders}); st.OnHand != want.OnHand || st.Reserved != 0 || st.Available != want.Available {
		t.Errorf("SKU-TIE = %+v, want on_hand %d: the paid orders arrived after the level and must reduce it", st, want.OnHand)
	}
}
