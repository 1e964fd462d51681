package httpapi_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/domain"
)

// The ingress reads a request's order once and gives it to the stored entry when
// the entry's body is the request's: the stored entry must still carry its order,
// and a refused request's rejection the order it seemed to name.
func TestStoredAndRejectedWebhooksCarryTheOrderTheirBodyNames(t *testing.T) {
	e := newGuardEnv(t, map[string]domain.Source{
		"stripe-main": {ID: "stripe-main", Provider: "stripe", Secrets: []string{secret}},
	}, func(_ context.Context) (int, error) { return 0, nil }, 0)

	if r := e.post("stripe-main", false); r.status != 200 {
		t.Fatalf("signed webhook answered %d, want 200", r.status)
	}
	if r := e.post("stripe-main", true); r.status != 401 {
		t.Fatalf("forged webhook answered %d, want 401", r.status)
	}
	var stored []string
	if err := e.db.Select(&stored, `SELECT coalesce(order_ref, '') FROM inbox ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"9001"}, stored); diff != "" {
		t.Errorf("stored entries' order refs (-want +got):\n%s", diff)
	}
	var rejected []string
	if err := e.db.Select(&rejected, `SELECT coalesce(order_ref, '') FROM rejections ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"9001"}, rejected); diff != "" {
		t.Errorf("rejections' order refs (-want +got):\n%s", diff)
	}
}
