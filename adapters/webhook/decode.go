package webhook

import (
	"bytes"
	"encoding/json"
	"time"
)

// DecodeJSON decodes the first JSON value of b into v with numbers kept as json.Number,
// so that an amount is never read through float64. Anything after that value is ignored.
func DecodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// ParseTime reads an RFC 3339 timestamp (fractional seconds allowed) in UTC. An empty or
// malformed one is the zero time, which callers take as "not given".
func ParseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
