package registry_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

const module = "github.com/tradewind/tradewind/"

// imports returns the module packages the non-test Go files of dir import.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if rest, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out, rest) {
				out = append(out, rest)
			}
		}
	}
	return out
}

// TestNoAdapterImportsAProviderAdapter keeps the provider adapters apart: only the
// registry (and cmd) may import a provider adapter. What providers share (a signature
// scheme, the generic format, webhook helpers) lives in packages that are not providers,
// and the ingress knows providers through domain interfaces only.
func TestNoAdapterImportsAProviderAdapter(t *testing.T) {
	providers := map[string]bool{}
	for _, p := range imports(t, ".") {
		if strings.HasPrefix(p, "adapters/") && p != "adapters/webhook" {
			providers[p] = true
		}
	}
	if len(providers) < 5 {
		t.Fatalf("the registry imports only %v; is this the registry's directory?", providers)
	}
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		pkg := "adapters/" + filepath.ToSlash(strings.TrimPrefix(strings.TrimPrefix(path, ".."), "/"))
		if pkg == "adapters/registry" || strings.Contains(pkg, "testdata") {
			return nil
		}
		for _, imp := range imports(t, path) {
			if providers[imp] && imp != pkg {
				t.Errorf("%s imports the provider adapter %s; move what they share into a package that is not a provider", pkg, imp)
			}
			if pkg == "adapters/httpapi" && (providers[imp] || imp == "adapters/webhook") {
				t.Errorf("adapters/httpapi imports %s; the ingress must know providers through domain interfaces only", imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFakeAPIsBelongToFetchers: a provider brings a fake of its API for `tradewind
// simulate` only when the worker calls that API (domain.Fetcher); the fakes and the
// batching are found in the registry, so cmd names no provider.
func TestFakeAPIsBelongToFetchers(t *testing.T) {
	fakes := registry.KindsWith(func(a registry.Adapter) bool { _, ok := a.(webhook.FakeAPISimulator); return ok })
	if diff := cmp.Diff([]string{"bigcommerce", "plugnpay", "powertranz"}, fakes); diff != "" {
		t.Errorf("providers with a fake API (-want +got):\n%s", diff)
	}
	for _, k := range fakes {
		if a, _ := registry.Lookup(k); a != nil {
			if _, ok := a.(domain.Fetcher); !ok {
				t.Errorf("%s has a fake API but the worker never calls its API (not a domain.Fetcher)", k)
			}
		}
	}
	batchers := registry.KindsWith(func(a registry.Adapter) bool { _, ok := a.(webhook.Batcher); return ok })
	if diff := cmp.Diff([]string{"adyen"}, batchers); diff != "" {
		t.Errorf("batching providers (-want +got):\n%s", diff)
	}
}
