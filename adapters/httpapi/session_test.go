package httpapi

import (
	"strings"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	s := sessions{key: []byte("a-token-of-sixteen-chars"), now: func() time.Time { return now }}
	v, id, exp := s.issue()
	if !exp.Equal(now.Add(sessionTTL)) {
		t.Errorf("expires %v, want %v", exp, now.Add(sessionTTL))
	}
	if v2, id2, _ := s.issue(); v2 == v || id2 == id || len(id) < 40 {
		t.Errorf("two sessions issued at the same time share a value or an id (%q, %q), or the id is short", id, id2)
	}
	msg := v[:strings.LastIndexByte(v, '.')]
	sig := v[len(msg)+1:]
	other := sessions{key: []byte("another-token-sixteen-chars"), now: s.now}
	otherV, _, _ := other.issue()
	tests := []struct {
		name  string
		value string
		at    time.Time
		want  bool
	}{
		{"fresh", v, now, true},
		{"just before expiry", v, exp.Add(-time.Second), true},
		{"expired", v, exp, false},
		{"empty", "", now, false},
		{"no signature", msg, now, false},
		{"expiry moved later", id + ".9999999999." + sig, now, false},
		{"another id", "x" + v[1:], now, false},
		{"old format (expiry.signature)", "9999999999." + sig, now, false},
		{"signed with another token", otherV, now, false},
		{"garbage", "not.a-session", now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s
			s.now = func() time.Time { return tt.at }
			gotID, got := s.valid(tt.value)
			if got != tt.want || (got && gotID != id) {
				t.Errorf("valid(%q) at %v = %v, want %v", tt.value, tt.at, got, tt.want)
			}
		})
	}
	if _, ok := (sessions{now: s.now}).valid(v); ok {
		t.Error("a server without an API token accepted a session")
	}

	token := s.csrf(v)
	if !s.checkCSRF(v, token) {
		t.Error("the session's own form token was refused")
	}
	if s.checkCSRF(v, "") || s.checkCSRF(v, s.csrf(otherV)) || s.checkCSRF(v, token[1:]) {
		t.Error("a missing or foreign form token was accepted")
	}
}

func TestLocalNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ops/webhooks?status=failed": "/ops/webhooks?status=failed",
		"":                            "/ops/",
		"https://evil.example/":       "/ops/",
		"//evil.example/ops/":         "/ops/",
		"/ops/\\evil":                 "/ops/",
		"/ops/logout":                 "/ops/",
		"/api/v1/orders/1":            "/ops/",
	} {
		if got := localNext(in); got != want {
			t.Errorf("localNext(%q) = %q, want %q", in, got, want)
		}
	}
}
