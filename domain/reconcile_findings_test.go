package domain

import "testing"

func TestReconciliationTroubled(t *testing.T) {
	src := func(r SourceReport) []SourceReport { r.Source = "s"; return []SourceReport{r} }
	for _, tc := range []struct {
		name string
		r    Reconciliation
		want bool
	}{
		{"clean run", Reconciliation{Status: ReconCompleted, Sources: src(SourceReport{Compared: 10})}, false},
		{"failed", Reconciliation{Status: ReconFailed}, true},
		{"running, drift so far", Reconciliation{Status: ReconRunning, Sources: src(SourceReport{Mismatched: 1})}, false},
		{"missed events", Reconciliation{Status: ReconCompleted, Sources: src(SourceReport{Missing: 2, Repaired: 2})}, true},
		{"mismatch", Reconciliation{Status: ReconCompleted, Sources: src(SourceReport{Mismatched: 1, Conflicts: 1})}, true},
		{"stock drift", Reconciliation{Status: ReconCompleted, StockDriftFixed: 3}, true},
		{"storefront stock drift", Reconciliation{Status: ReconCompleted,
			StorefrontStock: []StorefrontStockReport{{Destination: "shop", Compared: 5, Drift: 1, Repaired: 1}}}, true},
		{"storefront stock compared clean", Reconciliation{Status: ReconCompleted,
			StorefrontStock: []StorefrontStockReport{{Destination: "shop", Compared: 5}}}, false},
		{"a store's levels could not be read", Reconciliation{Status: ReconCompleted,
			StorefrontStock: []StorefrontStockReport{{Destination: "shop", Errors: []string{"throttled"}}}}, true},
		{"a page kept failing", Reconciliation{Status: ReconCompleted, Sources: src(SourceReport{Errors: []string{"429"}})}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Troubled(); got != tc.want {
				t.Errorf("Troubled() = %v, want %v (findings %+v)", got, tc.want, tc.r.Findings())
			}
		})
	}
}
