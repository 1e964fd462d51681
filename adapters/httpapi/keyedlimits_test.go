package httpapi

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tradewind/tradewind/domain"
)

func TestKeyedLimiters(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	spec := RateLimit{Rate: rate.Every(time.Minute), Burst: 3}
	// remembered reports which of keys have a bucket, in order, as the string
	// "ab-" (a and b remembered, c not); peek neither creates nor touches one.
	remembered := func(k *keyedLimiters, keys ...string) string {
		out := ""
		for _, key := range keys {
			if k.peek(key, spec) != nil {
				out += key
			} else {
				out += "-"
			}
		}
		return out
	}

	t.Run("never holds more than its cap", func(t *testing.T) {
		k := newKeyedLimiters(50)
		for i := range 10_000 {
			k.get(fmt.Sprintf("10.0.%d.%d", i/256, i%256), spec)
			if k.lru.Len() > 50 || len(k.byKey) != k.lru.Len() {
				t.Fatalf("after %d keys: %d in the list, %d in the map; want the same, at most 50", i+1, k.lru.Len(), len(k.byKey))
			}
		}
		if k.len() != 50 {
			t.Errorf("remembers %d keys, want 50: a full store keeps its cap", k.len())
		}
		for i := range 10_000 {
			key := fmt.Sprintf("10.0.%d.%d", i/256, i%256)
			if got, want := k.peek(key, spec) != nil, i >= 10_000-50; got != want {
				t.Fatalf("%s remembered = %v, want %v: the 50 most recent keys are the ones kept", key, got, want)
			}
		}
	})

	t.Run("evicts the least recently used first", func(t *testing.T) {
		k := newKeyedLimiters(3)
		for _, key := range []string{"a", "b", "c"} {
			k.get(key, spec)
		}
		k.get("a", spec) // used again: b is now the oldest
		k.get("d", spec)
		if got := remembered(k, "a", "b", "c", "d"); got != "a-cd" {
			t.Errorf("after a, b, c, a, d with room for 3: remembered %q, want %q", got, "a-cd")
		}
		k.peek("c", spec) // looking is not using: c stays the oldest
		k.get("e", spec)
		if got := remembered(k, "a", "b", "c", "d", "e"); got != "a--de" {
			t.Errorf("after peeking at c, then e: remembered %q, want %q", got, "a--de")
		}
	})

	t.Run("a key used again after eviction starts with a full burst", func(t *testing.T) {
		k := newKeyedLimiters(2)
		if !k.get("a", spec).AllowN(now, spec.Burst) {
			t.Fatal("a fresh bucket did not allow its burst")
		}
		if k.get("a", spec).AllowN(now, 1) {
			t.Fatal("an emptied bucket allowed one more")
		}
		k.get("b", spec)
		k.get("c", spec) // evicts a
		if tokens := k.get("a", spec).TokensAt(now); tokens != float64(spec.Burst) {
			t.Errorf("a after its eviction has %v tokens, want a full burst of %d", tokens, spec.Burst)
		}
	})

	t.Run("other settings get a fresh bucket", func(t *testing.T) {
		k := newKeyedLimiters(2)
		k.get("a", spec).AllowN(now, spec.Burst)
		wider := RateLimit{Rate: spec.Rate, Burst: 5}
		if tokens := k.get("a", wider).TokensAt(now); tokens != 5 {
			t.Errorf("a under new settings has %v tokens, want their full burst of 5", tokens)
		}
		if k.peek("a", spec) != nil {
			t.Error("peek found a bucket for settings the key no longer has")
		}
		if k.len() != 1 {
			t.Errorf("remembers %d keys, want 1: new settings replace the bucket", k.len())
		}
	})
}

// The per-address buckets of unsigned requests live in a keyedLimiters; this
// checks what sourceLimits promises on top of it.
func TestSourceLimitsPerAddress(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	l := &sourceLimits{ips: newKeyedLimiters(maxTrackedAddresses)}
	src := domain.Source{ID: "gw", Settings: map[string]string{SettingUnsignedIPRateLimit: "0.1", SettingUnsignedIPRateBurst: "2"}}
	client, other := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("203.0.113.10")
	allow := func(src domain.Source, ip netip.Addr) bool {
		t.Helper()
		wait, _, err := l.allow(src, ip, true, now)
		if err != nil {
			t.Fatal(err)
		}
		return wait == 0
	}
	for i := range 2 {
		if !allow(src, client) {
			t.Fatalf("request %d refused within the per-address burst", i+1)
		}
	}
	if allow(src, client) {
		t.Fatal("a request past the per-address burst was let through")
	}
	// The refusal came from the per-address bucket; the source's bucket gave its
	// token back, so a flood from one address does not eat the others' share.
	perSource, _, _, _, _ := UnsignedRateLimits(src)
	if tokens := l.limiter("unsigned:"+src.ID, perSource).TokensAt(now); tokens != float64(perSource.Burst-2) {
		t.Errorf("the source's bucket has %v tokens, want %d: the refused request took one", tokens, perSource.Burst-2)
	}
	if !allow(src, other) {
		t.Error("another address was refused")
	}
	changed := domain.Source{ID: src.ID, Settings: map[string]string{SettingUnsignedIPRateLimit: "0.1", SettingUnsignedIPRateBurst: "3"}}
	if !allow(changed, client) {
		t.Error("after the source's settings changed, the address was still held to the old bucket")
	}
}
