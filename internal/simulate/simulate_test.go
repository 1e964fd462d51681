package simulate_test

import (
	"context"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/simulate"
)

var stripeSource = domain.Source{ID: "demo-stripe", Provider: "stripe", Secrets: []string{"whsec_test"}, Settings: map[string]string{}}

func TestPlanShufflesAndDuplicatesEachFlow(t *testing.T) {
	a, _ := registry.Lookup("stripe")
	o := simulate.Options{Count: 3, Concurrency: 1, Duplicates: 2, Shuffle: true, Rand: rand.New(rand.NewPCG(1, 2))}
	refs, sent, err := simulate.Plan(a, stripeSource, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	flow := a.Flow()
	if len(refs) != 3 || len(sent) != 3*2*len(flow) {
		t.Fatalf("planned %d refs and %d deliveries, want 3 and %d", len(refs), len(sent), 3*2*len(flow))
	}
	for i, ref := range refs {
		per := sent[i*2*len(flow) : (i+1)*2*len(flow)]
		copies := map[int]int{}
		var types []string
		for _, d := range per {
			if d.Options.OrderRef != ref {
				t.Errorf("delivery %d names order %s, want %s", d.Seq, d.Options.OrderRef, ref)
			}
			copies[d.Seq]++
			if !d.Dup {
				types = append(types, d.Type)
			}
		}
		for seq, n := range copies {
			if n != 2 {
				t.Errorf("delivery %d planned %d times, want 2", seq, n)
			}
		}
		if diff := cmp.Diff(slices.Sorted(slices.Values(flow)), slices.Sorted(slices.Values(types))); diff != "" {
			t.Errorf("flow %s: first copies are not the flow (-want +got):\n%s", ref, diff)
		}
	}
}

// The batching providers and those with a fake API come from the registry: the
// messages name them without a list in this package.
func TestCapabilitiesComeFromTheRegistry(t *testing.T) {
	a, _ := registry.Lookup("stripe")
	_, _, err := simulate.Plan(a, stripeSource, nil, simulate.Options{Count: 1, Concurrency: 1, Duplicates: 1, Batch: true})
	if err == nil || !strings.Contains(err.Error(), "only adyen batch") {
		t.Errorf("--batch for stripe: err = %v, want it to say only adyen batches", err)
	}
	err = simulate.Serve(context.Background(), io.Discard, []string{"stripe"}, simulate.Options{})
	if err == nil || !strings.Contains(err.Error(), "only bigcommerce, plugnpay, powertranz do") {
		t.Errorf("--serve stripe: err = %v, want it to name the providers with a fake API", err)
	}
}

func TestBadCountsAreRefused(t *testing.T) {
	a, _ := registry.Lookup("stripe")
	for _, o := range []simulate.Options{{Concurrency: 1, Duplicates: 1}, {Count: 1, Duplicates: 1}, {Count: 1, Concurrency: 1}} {
		if _, _, err := simulate.Plan(a, stripeSource, nil, o); err == nil {
			t.Errorf("Plan(%+v) = nil error, want a refusal", o)
		}
	}
}

// Without a sources file the list still names every provider and says how to send.
func TestListWithoutASourcesFile(t *testing.T) {
	var out strings.Builder
	if err := simulate.List(&out, simulate.Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "No sources file") {
		t.Errorf("the list does not say there is no sources file:\n%s", out.String())
	}
	for _, k := range registry.Kinds() {
		a, _ := registry.Lookup(k)
		if !strings.Contains(out.String(), a.SampleTypes()[0]) || !strings.Contains(out.String(), k+" ") {
			t.Errorf("the list does not show %s and its default event type:\n%s", k, out.String())
		}
	}
}
