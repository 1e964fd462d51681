package reconcile

import (
	"encoding/json"
	"fmt"
	"io"

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
