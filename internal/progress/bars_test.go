package progress_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tradewind/tradewind/internal/progress"
)

func TestBarsOnePerKey(t *testing.T) {
	var out bytes.Buffer
	bars := progress.NewBars(&out, progress.Options{ShowCount: true, Unit: "compared", Plain: true})
	bars.Set("acme-stripe", 3)
	bars.Set("acme-shopify", 5)
	bars.Set("acme-stripe", 7)
	bars.Finish()
	got := out.String()
	for _, want := range []string{"acme-stripe", "acme-shopify", "7 compared", "5 compared"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
