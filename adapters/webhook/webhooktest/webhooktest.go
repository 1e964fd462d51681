// Package webhooktest is the contract suite every provider adapter runs, plus golden
// file and fuzz helpers, so that each adapter makes the same guarantees.
package webhooktest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/ with the current output")

// Adapter is what the contract suite needs of an adapter.
type Adapter interface {
	domain.Provider
	webhook.Simulator
}

// Options describe the adapter's scheme to the contract suite.
type Options struct {
	// Source is a valid source for the adapter (secrets and settings).
	Source domain.Source
	// OtherSecret is a valid secret the source does not hold.
	OtherSecret string
	// Timestamped is true when the scheme signs a timestamp with a tolerance.
	Timestamped bool
	// Unsigned is true for providers whose callbacks carry no signature
	// (PowerTranz, PlugnPay): Verify may accept, but every message must be Unconfirmed.
	Unsigned bool
}

// Delivery turns a simulated request into a delivery received at now.
func Delivery(r webhook.Request, now time.Time) domain.Delivery {
	return domain.Delivery{Header: r.Header.Clone(), Body: bytes.Clone(r.Body), ReceivedAt: now, URL: "http://127.0.0.1/webhooks/test"}
}

func sample(t *testing.T, a Adapter, src domain.Source, typ string, o webhook.SampleOptions) webhook.Request {
	t.Helper()
	r, err := a.Sample(src, typ, o)
	if err != nil {
		t.Fatalf("Sample(%q): %v", typ, err)
	}
	return r
}

func wantRejected(t *testing.T, a Adapter, src domain.Source, d domain.Delivery, opt Options, what string) {
	t.Helper()
	err := a.Verify(context.Background(), src, d)
	if opt.Unsigned && err == nil {
		msgs, perr := a.Parse(src, d)
		for _, m := range msgs {
			if !m.Unconfirmed {
				t.Errorf("%s: unsigned provider produced a confirmed message %q", what, m.ID)
			}
		}
		_ = perr
		return
	}
	if got := domain.ErrorCode(err); got != domain.EUNAUTHORIZED {
		t.Errorf("%s: Verify = %v, want an %s error", what, err, domain.EUNAUTHORIZED)
	}
}

// Contract runs the guarantees every adapter makes.
func Contract(t *testing.T, a Adapter, opt Options) {
	src := opt.Source
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	if err := a.CheckSource(src); err != nil {
		t.Fatalf("CheckSource(valid source) = %v", err)
	}
	for _, typ := range a.SampleTypes() {
		t.Run(typ, func(t *testing.T) {
			o := webhook.SampleOptions{EventID: "evt_contract_1", OrderRef: "1001", SKU: "SKU-1", Quantity: 2, Amount: 2500, Currency: "USD", Now: now}
			req := sample(t, a, src, typ, o)
			d := Delivery(req, now)

			t.Run("signed sample verifies, parses and normalizes", func(t *testing.T) {
				if err := a.Verify(context.Background(), src, d); err != nil {
					t.Fatalf("Verify = %v", err)
				}
				msgs, err := a.Parse(src, d)
				if err != nil || len(msgs) == 0 {
					t.Fatalf("Parse = %v, %v; want at least one message", msgs, err)
				}
				for _, m := range msgs {
					if m.ID == "" || m.Type == "" {
						t.Errorf("message without id or type: %+v", m)
					}
					if !a.Handles(m.Type) {
						t.Errorf("Handles(%q) = false for a sampled type", m.Type)
					}
					if m.Unconfirmed { // applied only after a Fetcher confirms it
						continue
					}
					evs, err := a.Normalize(src, m)
					if err != nil {
						t.Fatalf("Normalize = %v", err)
					}
					for _, e := range evs {
						if e.Provider != a.Kind() || e.Source != src.ID || e.EventID == "" || e.Type == "" {
							t.Errorf("event lacks provenance: %+v", e)
						}
					}
				}
			})
			t.Run("duplicate delivery has the same dedupe key", func(t *testing.T) {
				again := sample(t, a, src, typ, o)
				m1, err1 := a.Parse(src, d)
				m2, err2 := a.Parse(src, Delivery(again, now))
				if err1 != nil || err2 != nil {
					t.Fatalf("Parse: %v, %v", err1, err2)
				}
				if diff := cmp.Diff(ids(m1), ids(m2)); diff != "" {
					t.Errorf("dedupe keys differ between deliveries of one event (-first +second):\n%s", diff)
				}
				o2 := o
				o2.EventID = "evt_contract_2"
				other, _ := a.Parse(src, Delivery(sample(t, a, src, typ, o2), now))
				if slices.Equal(ids(m1), ids(other)) {
					t.Errorf("two different events share dedupe keys %v", ids(m1))
				}
			})
			if opt.Unsigned {
				return
			}
			t.Run("missing signature is rejected", func(t *testing.T) {
				bare := d
				bare.Header = http.Header{"Content-Type": d.Header.Values("Content-Type")}
				wantRejected(t, a, src, bare, opt, "no headers")
			})
			t.Run("empty secret list is rejected", func(t *testing.T) {
				none := src
				none.Secrets = nil
				wantRejected(t, a, none, d, opt, "no secrets")
			})
			t.Run("tampered body is rejected", func(t *testing.T) {
				for _, i := range []int{0, len(d.Body) / 2, len(d.Body) - 1} {
					bad := d
					bad.Body = bytes.Clone(d.Body)
					bad.Body[i] ^= 0x01
					wantRejected(t, a, src, bad, opt, "tampered body")
				}
			})
			t.Run("wrong secret is rejected", func(t *testing.T) {
				other := src
				other.Secrets = []string{opt.OtherSecret}
				wantRejected(t, a, other, d, opt, "wrong secret")
			})
			t.Run("older rotated secret is accepted", func(t *testing.T) {
				rotated := src
				rotated.Secrets = []string{opt.OtherSecret, src.Secrets[0]}
				if err := a.Verify(context.Background(), rotated, d); err != nil {
					t.Errorf("Verify with [new, old] secrets of a delivery signed with old = %v", err)
				}
			})
			if opt.Timestamped {
				t.Run("stale timestamp is rejected", func(t *testing.T) {
					old := o
					old.Now = now.Add(-10 * time.Minute)
					wantRejected(t, a, src, Delivery(sample(t, a, src, typ, old), now), opt, "10 minutes old")
				})
			}
		})
	}
	t.Run("unknown event type is not handled", func(t *testing.T) {
		if a.Handles("tradewind.no_such_event") {
			t.Error("Handles(unknown) = true")
		}
	})
}

func ids(ms []domain.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// ReadFile returns the contents of a test data file, failing the test when it cannot be read.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden compares got, as indented JSON, with the golden file at path, or rewrites
// the file when the test runs with -update.
func Golden(t *testing.T, path string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./adapters/... -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// NormalizeAll parses a verified delivery and normalizes every message, for golden files.
func NormalizeAll(t *testing.T, p domain.Provider, src domain.Source, d domain.Delivery) []domain.Event {
	t.Helper()
	msgs, err := p.Parse(src, d)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	evs := []domain.Event{}
	for _, m := range msgs {
		e, err := p.Normalize(src, m)
		if err != nil {
			t.Fatalf("Normalize(%s): %v", m.ID, err)
		}
		evs = append(evs, e...)
	}
	return evs
}

// Fuzz drives verify and parse with arbitrary bodies under the headers of signed
// seeds: nothing may panic, and no body other than a seed's own may verify.
func Fuzz(f *testing.F, a Adapter, opt Options) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	var seeds []webhook.Request
	for i, typ := range a.SampleTypes() {
		r, err := a.Sample(opt.Source, typ, webhook.SampleOptions{OrderRef: "1001", SKU: "SKU-1", Quantity: 1, Amount: 1999, Currency: "USD", Now: now})
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, r)
		f.Add(uint8(i), r.Body)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		seed := seeds[int(which)%len(seeds)]
		d := Delivery(webhook.Request{Header: seed.Header, Body: body}, now)
		err := a.Verify(context.Background(), opt.Source, d)
		msgs, perr := a.Parse(opt.Source, d)
		if err == nil && !opt.Unsigned && !bytes.Equal(body, seed.Body) {
			t.Fatalf("a body other than the signed one verified: %q", body)
		}
		if perr != nil {
			return
		}
		for _, m := range msgs {
			if err == nil && opt.Unsigned && !m.Unconfirmed {
				t.Fatalf("unsigned provider parsed a confirmed message")
			}
			_, _ = a.Normalize(opt.Source, m)
		}
	})
}
