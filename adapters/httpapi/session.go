package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// The dashboard's session cookie is "<id>.<expiry>.<HMAC of both>", keyed by the
// API token. The HMAC and the expiry are checked first, without a query, so a
// forged cookie costs nothing; then the id must be an active row of the session
// store (PostgreSQL), which signing out deletes on every replica at once. Changing
// TRADEWIND_API_TOKEN still signs everyone out.
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

// issue returns a new session cookie value, its id (the part the session store
// keeps) and when it expires.
func (s sessions) issue() (value, id string, exp time.Time) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	id = base64.RawURLEncoding.EncodeToString(b)
	exp = s.now().Add(sessionTTL).Truncate(time.Second)
	msg := id + "." + strconv.FormatInt(exp.Unix(), 10)
	return msg + "." + s.mac("session", msg), id, exp
}

// valid returns the session id of a cookie value signed by us and not expired.
// Whether the session is still active (not signed out) is the store's to say.
func (s sessions) valid(v string) (id string, ok bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 || len(s.key) == 0 {
		return "", false
	}
	msg, sig := v[:i], v[i+1:]
	if !hmac.Equal([]byte(sig), []byte(s.mac("session", msg))) {
		return "", false
	}
	id, e, ok := strings.Cut(msg, ".")
	if !ok || id == "" {
		return "", false
	}
	unix, err := strconv.ParseInt(e, 10, 64)
	if err != nil || !s.now().Before(time.Unix(unix, 0)) {
		return "", false
	}
	return id, true
}

// csrf is the form token of a session: derived from it, so it needs no storage and
// dies with it.
func (s sessions) csrf(session string) string { return s.mac("csrf", session) }

// checkCSRF reports whether token is the form token of session.
func (s sessions) checkCSRF(session, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.csrf(session)))
}
