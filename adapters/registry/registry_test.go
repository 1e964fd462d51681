package registry_test

import (
	"testing"

	"github.com/tradewind/tradewind/adapters/registry"
)

// TestRegistryKnowsEveryKind: the Registry the ingress and the worker use answers
// for every kind a sources file may name, with that kind's provider, and for no other.
func TestRegistryKnowsEveryKind(t *testing.T) {
	r := registry.New()
	for _, kind := range registry.Kinds() {
		p, ok := r.Provider(kind)
		if !ok || p.Kind() != kind {
			t.Errorf("Provider(%q) = %v, %v; want the %s provider", kind, p, ok, kind)
		}
	}
	if p, ok := r.Provider("nope"); ok {
		t.Errorf("Provider(%q) = %v, true; want none", "nope", p)
	}
}
