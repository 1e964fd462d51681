package domain

// ReconciliationFindings totals what a run found over its sources.
type ReconciliationFindings struct {
	Missing, Repaired, Mismatched, Conflicts, Errors, StockDriftFixed int
	// StorefrontDrift counts SKUs a stock destination's store showed at another
	// level than Tradewind publishes (StorefrontStockReport.Drift).
	StorefrontDrift int
}

// Findings totals r's sources.
func (r Reconciliation) Findings() ReconciliationFindings {
	f := ReconciliationFindings{StockDriftFixed: r.StockDriftFixed}
	for _, s := range r.Sources {
		f.Missing += s.Missing
		f.Repaired += s.Repaired
		f.Mismatched += s.Mismatched
		f.Conflicts += s.Conflicts
		f.Errors += len(s.Errors)
	}
	for _, d := range r.StorefrontStock {
		f.StorefrontDrift += d.Drift
		f.Errors += len(d.Errors)
	}
	return f
}

// Drift reports whether a run found Tradewind's records differing from the
// providers' or from its own ledger: events it had missed, values held
// differently, records the provider does not know, stock counters off, a store
// showing another stock level than Tradewind publishes.
func (f ReconciliationFindings) Drift() bool {
	return f.Missing > 0 || f.Mismatched > 0 || f.Conflicts > 0 || f.StockDriftFixed > 0 || f.StorefrontDrift > 0
}

// Troubled reports whether a person should look at r: it failed, could not do
// part of its work (errors), or found drift. A running run is not troubled yet.
func (r Reconciliation) Troubled() bool {
	if r.Status == ReconFailed {
		return true
	}
	f := r.Findings()
	return r.Status != ReconRunning && (f.Errors > 0 || f.Drift())
}
