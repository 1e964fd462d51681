package domain

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// maxRefDepth is how many levels of a JSON body jsonRef searches.
const maxRefDepth = 6

// jsonRef returns the order ref in v, a JSON object or array: v is searched
// breadth-first, so that a top-level field wins over one nested deeper (a
// refund's order_id over a line item's), and the fields of an object in key
// order. It reads v once, keeping only the shape of its objects and arrays (the
// spans of their values, never a decoded tree), because every body the ingress
// stores goes through here: decoding a 2.5 KB Stripe event into maps cost a
// third of the handler's CPU. Only the first JSON value counts, and it must be
// valid, as for a json.Decoder; else the answer is "".
func jsonRef(v []byte, keys []string) string {
	if !json.Valid(v) { // rarely: something after the first value
		end := skipValue(v, 0)
		if end < 0 || !json.Valid(v[:end]) {
			return ""
		}
		v = v[:end]
	}
	p := refParser{data: v, nodes: make([]refNode, 0, 8), arena: make([]refMember, 0, 32), stack: make([]refMember, 0, 16)}
	root := p.value(0)
	level, next := make([]int, 1, 16), make([]int, 0, 16)
	level[0] = root
	for depth := 0; depth < maxRefDepth && len(level) > 0; depth++ {
		next = next[:0]
		for _, i := range level {
			n := p.nodes[i]
			if !n.object {
				for _, m := range n.members(&p) {
					if m.child >= 0 {
						next = append(next, m.child)
					}
				}
				continue
			}
			if s := p.objectRef(n, keys); s != "" {
				return s
			}
			for _, m := range p.sortedMembers(n) {
				if m.child >= 0 {
					next = append(next, m.child)
				}
			}
		}
		level, next = next, level
	}
	return ""
}

// refParser reads the shape of a valid JSON value: a node for each object and
// array down to maxRefDepth, with the spans of its members' values.
type refParser struct {
	data  []byte
	pos   int
	nodes []refNode
	arena []refMember // every node's members, each node's together
	stack []refMember // the members of the containers being read
}

type refNode struct {
	object bool
	lo, hi int // its members, arena[lo:hi], in document order; an array's have no key
}

func (n refNode) members(p *refParser) []refMember { return p.arena[n.lo:n.hi] }

type refMember struct {
	key        []byte // decoded, as encoding/json would (within the body when it has no escapes)
	start, end int    // the value's span
	child      int    // the value's node, or -1: a scalar, or a container below maxRefDepth
}

// value reads the value at p.pos, at depth, and returns its node, or -1.
func (p *refParser) value(depth int) int {
	switch p.data[p.pos] {
	case '{', '[':
		if depth >= maxRefDepth {
			p.pos = skipValue(p.data, p.pos)
			return -1
		}
		return p.container(depth)
	default:
		p.pos = skipValue(p.data, p.pos)
		return -1
	}
}

func (p *refParser) container(depth int) int {
	object := p.data[p.pos] == '{'
	closing := byte(']')
	if object {
		closing = '}'
	}
	idx := len(p.nodes)
	p.nodes = append(p.nodes, refNode{object: object})
	base := len(p.stack) // this container's members go above its parents'; its children's come and go above them
	p.pos++
	p.space()
	for p.data[p.pos] != closing {
		var m refMember
		if object {
			ks := p.pos
			p.pos = skipValue(p.data, p.pos)
			m.key = jsonStringBytes(p.data[ks:p.pos])
			p.space()
			p.pos++ // ':'
			p.space()
		}
		m.start = p.pos
		m.child = p.value(depth + 1)
		m.end = p.pos
		p.stack = append(p.stack, m)
		p.space()
		if p.data[p.pos] == ',' {
			p.pos++
			p.space()
		}
	}
	p.pos++
	lo := len(p.arena)
	p.arena = append(p.arena, p.stack[base:]...)
	p.stack = p.stack[:base]
	p.nodes[idx].lo, p.nodes[idx].hi = lo, len(p.arena)
	return idx
}

func (p *refParser) space() {
	for p.pos < len(p.data) && isSpace(p.data[p.pos]) {
		p.pos++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// member returns an object's value for key: the last one, as a decoded map keeps.
func (p *refParser) member(n refNode, key string) (refMember, bool) {
	ms := n.members(p)
	for i := len(ms) - 1; i >= 0; i-- {
		if string(ms[i].key) == key {
			return ms[i], true
		}
	}
	return refMember{}, false
}

// objectRef is the ref an object names itself: one of keys, or its own id when
// it is a storefront's order (Shopify and WooCommerce orders have line items;
// BigCommerce names one as {type: order, id}).
func (p *refParser) objectRef(n refNode, keys []string) string {
	for _, k := range keys {
		if m, ok := p.member(n, k); ok {
			if s := p.scalar(m); s != "" {
				return s
			}
		}
	}
	id, hasID := p.member(n, "id")
	if !hasID {
		return ""
	}
	_, items := p.member(n, "line_items")
	if !items {
		t, ok := p.member(n, "type")
		items = ok && p.data[t.start] == '"' && jsonString(p.data[t.start:t.end]) == "order"
	}
	if items {
		return p.scalar(id)
	}
	return ""
}

// sortedMembers is an object's members in key order, each key once (its last
// value). It sorts them in place: a node is searched once, before this.
func (p *refParser) sortedMembers(n refNode) []refMember {
	ms := n.members(p)
	slices.SortStableFunc(ms, func(a, b refMember) int { return bytes.Compare(a.key, b.key) })
	out := ms[:0]
	for i, m := range ms {
		if i+1 < len(ms) && bytes.Equal(ms[i+1].key, m.key) {
			continue // a later value of the same key wins
		}
		out = append(out, m)
	}
	return out
}

// scalar is a string member's text, trimmed, or a number's literal; "" for
// anything else.
func (p *refParser) scalar(m refMember) string {
	v := p.data[m.start:m.end]
	switch c := v[0]; {
	case c == '"':
		return strings.TrimSpace(jsonString(v))
	case c == '-' || (c >= '0' && c <= '9'):
		return string(v)
	}
	return ""
}

// jsonString decodes a valid JSON string literal as encoding/json does
// (escapes, and invalid UTF-8 replaced).
func jsonString(lit []byte) string { return string(jsonStringBytes(lit)) }

// jsonStringBytes is jsonString's bytes: plain ASCII without escapes is returned
// in place, without a copy.
func jsonStringBytes(lit []byte) []byte {
	body := lit[1 : len(lit)-1]
	for _, c := range body {
		if c == '\\' || c >= 0x80 {
			var s string
			_ = json.Unmarshal(lit, &s)
			return []byte(s)
		}
	}
	return body
}

// skipValue returns the end of the JSON value starting at i (after leading
// space), or -1 when data ends first. It does not check the value: jsonRef
// checks the span it returns.
func skipValue(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		for i++; ; i++ {
			j := bytes.IndexByte(data[i:], '"')
			if j < 0 {
				return -1
			}
			i += j
			escapes := 0 // backslashes right before the quote: an odd number escapes it
			for k := i - 1; data[k] == '\\'; k-- {
				escapes++
			}
			if escapes%2 == 0 {
				return i + 1
			}
		}
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				e := skipValue(data, i)
				if e < 0 {
					return -1
				}
				i = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // a number, true, false or null
		for i < len(data) && !isSpace(data[i]) && data[i] != ',' && data[i] != ']' && data[i] != '}' && data[i] != ':' {
			i++
		}
		return i
	}
}
