package stdwebhooks_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/domain"
)

func TestSignedHeadersVerify(t *testing.T) {
	key, err := stdwebhooks.DecodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	other := []byte("another key")
	at := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"OrderPlaced"}`)
	signed := func() http.Header {
		h := http.Header{}
		stdwebhooks.SetHeaders(h, key, "msg_1", at.Unix(), body)
		return h
	}
	tests := []struct {
		name string
		keys [][]byte
		edit func(h http.Header)
		now  time.Time
		ok   bool
	}{
		{name: "as signed", keys: [][]byte{key}, now: at, ok: true},
		{name: "rotated: the second key signs", keys: [][]byte{other, key}, now: at, ok: true},
		{name: "v1a entries are skipped", keys: [][]byte{key}, now: at, ok: true,
			edit: func(h http.Header) {
				h.Set(stdwebhooks.SignatureHeader, "v1a,AAAA "+h.Get(stdwebhooks.SignatureHeader))
			}},
		{name: "wrong key", keys: [][]byte{other}, now: at},
		{name: "no key", now: at},
		{name: "another id", keys: [][]byte{key}, now: at, edit: func(h http.Header) { h.Set(stdwebhooks.IDHeader, "msg_2") }},
		{name: "timestamp outside tolerance", keys: [][]byte{key}, now: at.Add(stdwebhooks.Tolerance + time.Second)},
		{name: "timestamp not unix seconds", keys: [][]byte{key}, now: at,
			edit: func(h http.Header) { h.Set(stdwebhooks.TimestampHeader, at.Format(time.RFC3339)) }},
		{name: "signature header missing", keys: [][]byte{key}, now: at, edit: func(h http.Header) { h.Del(stdwebhooks.SignatureHeader) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := signed()
			if tt.edit != nil {
				tt.edit(h)
			}
			err := stdwebhooks.VerifyKeys(tt.keys, h, body, tt.now, stdwebhooks.Tolerance)
			if tt.ok != (err == nil) {
				t.Fatalf("VerifyKeys = %v, want ok %v", err, tt.ok)
			}
			if err != nil && domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Errorf("code = %s, want EUNAUTHORIZED", domain.ErrorCode(err))
			}
		})
	}
	if got, want := signed().Get(stdwebhooks.TimestampHeader), strconv.FormatInt(at.Unix(), 10); got != want {
		t.Errorf("webhook-timestamp = %q, want %q", got, want)
	}
}

func TestDecodeSecret(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_not base64!"} {
		if _, err := stdwebhooks.DecodeSecret(s); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("DecodeSecret(%q) = %v, want EINVALID", s, err)
		}
	}
	if k, err := stdwebhooks.DecodeSecret("a2V5"); err != nil || string(k) != "key" {
		t.Errorf(`DecodeSecret without prefix = %q, %v; want "key"`, k, err)
	}
}
