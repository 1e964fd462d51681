package httpapi

import (
	"container/list"
	"sync"

	"golang.org/x/time/rate"
)

// keyedLimiters is a token bucket per key in bounded memory. Its keys name client
// addresses, which a sender can make up in any number, so it remembers at most
// max keys and forgets the least recently used first (an LRU): an attacker with
// many addresses cannot grow it, and the clients being limited right now are the
// ones kept. A forgotten key starts again with a full burst, which is all that
// cycling through addresses gains; the limits above it (a source's own bucket)
// still hold.
type keyedLimiters struct {
	mu    sync.Mutex
	max   int
	lru   *list.List // of *keyedLimiter, most recently used first
	byKey map[string]*list.Element
}

// keyedLimiter is one key's bucket and the limit it was made for.
type keyedLimiter struct {
	key  string
	spec RateLimit
	lim  *rate.Limiter
}

func newKeyedLimiters(max int) *keyedLimiters {
	return &keyedLimiters{max: max, lru: list.New(), byKey: map[string]*list.Element{}}
}

// get returns key's bucket for spec and marks the key used, remembering it if it
// was not. The bucket is fresh (a full burst) when the key was not remembered or
// its bucket was made for another spec, so that a source whose settings change is
// not held to the old ones.
func (k *keyedLimiters) get(key string, spec RateLimit) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	if el, found := k.byKey[key]; found {
		e := el.Value.(*keyedLimiter)
		if e.spec != spec {
			e.spec, e.lim = spec, rate.NewLimiter(spec.Rate, spec.Burst)
		}
		k.lru.MoveToFront(el)
		return e.lim
	}
	if k.lru.Len() >= k.max {
		oldest := k.lru.Back()
		k.lru.Remove(oldest)
		delete(k.byKey, oldest.Value.(*keyedLimiter).key)
	}
	e := &keyedLimiter{key: key, spec: spec, lim: rate.NewLimiter(spec.Rate, spec.Burst)}
	k.byKey[key] = k.lru.PushFront(e)
	return e.lim
}

// peek returns key's bucket for spec, or nil when none is remembered. It neither
// remembers the key nor marks it used, so that looking costs no memory: a caller
// can let through what has no bucket without storing anything for it.
func (k *keyedLimiters) peek(key string, spec RateLimit) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	el, found := k.byKey[key]
	if !found {
		return nil
	}
	if e := el.Value.(*keyedLimiter); e.spec == spec {
		return e.lim
	}
	return nil // made for other settings: get would start it afresh
}

// len returns how many keys are remembered.
func (k *keyedLimiters) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lru.Len()
}
