package paypal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Settings keys for PayPal's REST API, with which events are confirmed.
const (
	SettingClientID     = "client_id"
	SettingClientSecret = "client_secret"
	SettingAPIBaseURL   = "api_base_url"
)

// DefaultAPIBaseURL is PayPal's production REST API (the sandbox is
// https://api-m.sandbox.paypal.com).
const DefaultAPIBaseURL = "https://api-m.paypal.com"

// maxEventBytes bounds an event read from PayPal's API.
const maxEventBytes = 1 << 20

func checkCredentials(src domain.Source) error {
	id, secret := src.Settings[SettingClientID], src.Settings[SettingClientSecret]
	if (id == "") != (secret == "") {
		return domain.Errorf(domain.EINVALID, "client_id and client_secret: give both (the REST app's credentials, with which every event is confirmed with PayPal) or neither")
	}
	if v := src.Settings[SettingAPIBaseURL]; v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return domain.Errorf(domain.EINVALID, "api_base_url: %q is not an http(s) URL; leave it out for %s (or use https://api-m.sandbox.paypal.com)", v, DefaultAPIBaseURL)
		}
	}
	return nil
}

// Fetch implements domain.Fetcher. For a source with client_id and client_secret it
// confirms the stored event with PayPal: an OAuth 2 client-credentials token from
// POST <api_base_url>/v1/oauth2/token, then GET
// <api_base_url>/v1/notifications/webhooks-events/{event id}, PayPal's own copy of the
// event. When the stored body normalizes to exactly what PayPal's copy does (type, ids,
// amounts, refs, time) the message is returned unchanged; when it does not, the body was
// forged under a genuine event id and the message returned carries PayPal's copy, so the
// facts applied are PayPal's (the inbox keeps the first body stored under an event id:
// rejecting it would leave the genuine event unapplied for ever). Without credentials
// the message is returned as is.
//
// PayPal's verify-webhook-signature endpoint is not used: it checks the same signature
// over the same CRC-32, so a body forged to the genuine CRC would pass it too; the event
// as PayPal stored it cannot be forged.
//
// Returns EUNAUTHORIZED when PayPal has no such event (404) or its copy is another
// event or unreadable (the message is then rejected, never applied), EUNAVAILABLE when PayPal cannot be reached or
// answers 401/403 (bad credentials are fixed without losing the message), 429 or 5xx.
func (p Provider) Fetch(ctx context.Context, src domain.Source, m domain.Message) (domain.Message, error) {
	if src.Settings[SettingClientID] == "" || src.Settings[SettingClientSecret] == "" {
		return m, nil
	}
	e, err := decode(m.Payload)
	if err != nil {
		return m, err
	}
	stored, err := p.Normalize(src, m)
	if err != nil {
		return m, nil // Normalize reports it: retrying or confirming cannot help
	}
	body, err := p.eventFromAPI(ctx, src, e.ID)
	if err != nil {
		return m, err
	}
	theirs, err := decode(body)
	if err != nil || theirs.ID != e.ID || theirs.EventType != e.EventType {
		return m, webhook.Reject("PayPal's copy of event %s is not a %s event with that id; the delivered body was not PayPal's", e.ID, e.EventType)
	}
	confirmed := domain.Message{ID: m.ID, Type: m.Type, OccurredAt: webhook.ParseTime(theirs.CreateTime), Payload: body}
	fetched, err := p.Normalize(src, confirmed)
	if err != nil {
		return m, webhook.Reject("PayPal's copy of event %s cannot be read: %s", e.ID, domain.ErrorMessage(err))
	}
	if !reflect.DeepEqual(stored, fetched) {
		// The delivered body was forged (the inbox keeps the first body under an event
		// id, so the genuine delivery could not replace it): apply PayPal's own copy.
		return confirmed, nil
	}
	return m, nil
}

func apiBase(src domain.Source) string {
	return strings.TrimRight(src.Setting(SettingAPIBaseURL, DefaultAPIBaseURL), "/")
}

// eventFromAPI reads GET /v1/notifications/webhooks-events/{id}.
func (p Provider) eventFromAPI(ctx context.Context, src domain.Source, id string) ([]byte, error) {
	tok, err := p.token(ctx, src)
	if err != nil {
		return nil, err
	}
	path := "/v1/notifications/webhooks-events/" + url.PathEscape(id)
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiBase(src)+path, nil)
	if err != nil {
		return nil, domain.WrapError(err, domain.EINVALID, "paypal: api_base_url does not make a request URL")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := p.client().Do(req)
	if err != nil {
		return nil, domain.WrapError(err, domain.EUNAVAILABLE, "paypal: GET "+path+": PayPal is unreachable; will retry")
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		return nil, webhook.Reject("PayPal has no event %s (GET %s answered 404): the delivered body was not PayPal's, or client_id is another app's than the webhook's", id, path)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		p.forgetToken(src)
		return nil, domain.Errorf(domain.EUNAVAILABLE, "paypal: GET %s answered %d; check client_id and client_secret (will retry)", path, resp.StatusCode)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, domain.Errorf(domain.EUNAVAILABLE, "paypal: GET %s answered %d; will retry", path, resp.StatusCode)
	default:
		return nil, domain.Errorf(domain.EINVALID, "paypal: GET %s answered %d", path, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxEventBytes))
	if err != nil {
		return nil, domain.WrapError(err, domain.EUNAVAILABLE, "paypal: reading event "+id+" failed; will retry")
	}
	return b, nil
}

// token is an OAuth 2 access token and when to stop using it.
type token struct {
	value string
	until time.Time
}

// tokenCache holds one token per API base, client id and secret.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]token
}

func tokenKey(src domain.Source) string {
	sum := sha256.Sum256([]byte(src.Settings[SettingClientSecret]))
	return apiBase(src) + "\x00" + src.Settings[SettingClientID] + "\x00" + hex.EncodeToString(sum[:])
}

func (p Provider) forgetToken(src domain.Source) {
	if p.cache == nil {
		return
	}
	p.cache.tokens.mu.Lock()
	delete(p.cache.tokens.m, tokenKey(src))
	p.cache.tokens.mu.Unlock()
}

// token returns a cached access token or gets one with POST /v1/oauth2/token
// (client credentials, HTTP basic auth).
func (p Provider) token(ctx context.Context, src domain.Source) (string, error) {
	key := tokenKey(src)
	now := p.now()
	if p.cache != nil {
		p.cache.tokens.mu.Lock()
		t, ok := p.cache.tokens.m[key]
		p.cache.tokens.mu.Unlock()
		if ok && now.Before(t.until) {
			return t.value, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiBase(src)+"/v1/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return "", domain.WrapError(err, domain.EINVALID, "paypal: api_base_url does not make a request URL")
	}
	req.SetBasicAuth(src.Settings[SettingClientID], src.Settings[SettingClientSecret])
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client().Do(req)
	if err != nil {
		return "", domain.WrapError(err, domain.EUNAVAILABLE, "paypal: POST /v1/oauth2/token: PayPal is unreachable; will retry")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", domain.Errorf(domain.EUNAVAILABLE, "paypal: POST /v1/oauth2/token answered %d; check client_id and client_secret (will retry)", resp.StatusCode)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil || out.AccessToken == "" {
		return "", domain.Errorf(domain.EUNAVAILABLE, "paypal: POST /v1/oauth2/token gave no access_token; will retry")
	}
	if p.cache != nil {
		life := time.Duration(out.ExpiresIn)*time.Second - time.Minute // renew a minute early
		p.cache.tokens.mu.Lock()
		p.cache.tokens.m[key] = token{value: out.AccessToken, until: now.Add(life)}
		p.cache.tokens.mu.Unlock()
	}
	return out.AccessToken, nil
}
