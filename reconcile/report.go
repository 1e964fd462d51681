package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// WriteReport writes a reconciliation's report to w as indented JSON:
// what `tradewind reconcile` prints when the run ends.
func WriteReport(w io.Writer, r domain.Reconciliation) error {
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(out))
	return err
}

// RunAndReport is `tradewind reconcile`: it starts a run of req, names it on
// stderr, runs it, calls done (the progress shown ends) and writes the report to
// stdout, also when the run failed.
func (r *Reconciler) RunAndReport(ctx context.Context, req Request, stdout, stderr io.Writer, done func()) error {
	rec, err := r.Start(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "reconciliation %d: %s – %s\n", rec.ID, rec.Since.Format(time.RFC3339), rec.Until.Format(time.RFC3339))
	rec, err = r.Run(ctx, rec.ID)
	done()
	_ = WriteReport(stdout, rec)
	return err
}
