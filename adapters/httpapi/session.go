package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// The dashboard's session is a cookie that carries its own expiry and an HMAC of it,
// keyed by the API token: no server-side state, so any replica accepts it, and
// changing TRADEWIND_API_TOKEN signs everyone out.
const (
	sessionCookie = "tradewind_ops"
	sessionTTL    = 12 * time.Hour
)

// sessions signs and checks session cookies and their CSRF tokens.
type sessions struct {
	key []byte
	now func() time.Time
}

func (s sessions) mac(purpose, msg string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue returns a new session value and when it expires.
func (s sessions) issue() (string, time.Time) {
	exp := s.now().Add(sessionTTL).Truncate(time.Second)
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + s.mac("session", e), exp
}

// valid reports whether a session value is signed by us and not expired.
func (s sessions) valid(v string) bool {
	e, sig, ok := strings.Cut(v, ".")
	if !ok || len(s.key) == 0 {
		return false
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac("session", e))) {
		return false
	}
	unix, err := strconv.ParseInt(e, 10, 64)
	return err == nil && s.now().Before(time.Unix(unix, 0))
}

// csrf is the form token of a session: derived from it, so it needs no storage and
// dies with it.
func (s sessions) csrf(session string) string { return s.mac("csrf", session) }

// checkCSRF reports whether token is the form token of session.
func (s sessions) checkCSRF(session, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.csrf(session)))
}
