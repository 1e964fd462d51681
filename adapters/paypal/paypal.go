// Package paypal verifies and normalizes PayPal webhooks.
//
// Signature: PAYPAL-TRANSMISSION-SIG = base64 SHA256withRSA over
// transmission_id|transmission_time|webhook_id|crc32(body), where crc32 is the IEEE CRC of
// the raw body as an unsigned decimal and webhook_id is the id PayPal gave the webhook
// registration (the source's webhook_id setting). The signing certificate is the one at
// PAYPAL-CERT-URL, fetched only over https from paypal.com or a subdomain and cached per
// URL, or, for air-gapped installs and tests, the certificates pinned by cert_file. The
// transmission time must be within 5 minutes of the receive time, and the certificate valid
// at the receive time. Dedupe on the event id.
//
// The signature binds the body only by its CRC-32, which anyone can match with a forged
// body. Two defences: the transmission id is single-use (Provider implements
// domain.SingleUse; the ingress refuses a second, different body under a used id as
// replayed_transmission, and a repeat of the same body is a duplicate), and, when the
// source has API credentials (client_id, client_secret; api_base_url, default
// https://api-m.paypal.com), every event is confirmed with PayPal before it is applied:
// Fetch (domain.Fetcher, confirm.go) reads the event by its id from PayPal's
// GET /v1/notifications/webhooks-events/{id}: an event PayPal does not have is rejected,
// and a body whose facts differ from PayPal's copy is replaced by that copy. Sources without credentials rely on the single-use id alone, which
// stops replays of a transmission already received but not a forged body that reaches
// Tradewind before the genuine one: set the credentials in production.
//
// PayPal has no shared secret: a PayPal source's secrets list stays empty. What a secret
// does elsewhere, the webhook id does here (a delivery for another webhook does not
// verify), and certificate rotation is PayPal's (a new URL) or the pinned list's.
//
// Quirks: money is decimal strings ("20.00"), parsed exactly. v2 resources (checkout
// orders, captures, refunds) carry {currency_code, value}; v1 sales carry {total,
// currency}. The order ref is custom_id, else invoice_id (v1: custom, else
// invoice_number). The payment ref is the id of the money movement: the capture (v2) or
// the sale (v1), the id refunds, reversals and disputes name (normalize.go).
package paypal

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of PayPal sources.
const Kind = "paypal"

// The headers PayPal signs a delivery with.
const (
	HeaderTransmissionID   = "Paypal-Transmission-Id"
	HeaderTransmissionTime = "Paypal-Transmission-Time"
	HeaderTransmissionSig  = "Paypal-Transmission-Sig"
	HeaderCertURL          = "Paypal-Cert-Url"
	HeaderAuthAlgo         = "Paypal-Auth-Algo"
)

// Settings keys read from the source.
const (
	SettingWebhookID = "webhook_id"
	SettingCertFile  = "cert_file"
)

// Tolerance is how far PAYPAL-TRANSMISSION-TIME may be from the receive time.
const Tolerance = 5 * time.Minute

// certHosts are the names PayPal's message-verification certificates are issued to.
var certHosts = []string{"messageverificationcerts.paypal.com", "messageverificationcerts.sandbox.paypal.com"}

// Options configure a Provider made by New.
type Options struct {
	// Client fetches certificates from PAYPAL-CERT-URL and calls PayPal's API; nil means
	// a client with FetchTimeout that follows redirects only to paypal.com hosts.
	Client *http.Client
	// FetchTimeout bounds one certificate download or API call (default 10 s).
	FetchTimeout time.Duration
	// Roots verifies fetched certificates' chains; nil means the system roots.
	Roots *x509.CertPool
	// InsecureSkipCertChecks skips the certificate's validity period, chain and host name
	// checks. Only for tests against PayPal's published (expired) sandbox certificate;
	// the registry leaves it false, which checks them all.
	InsecureSkipCertChecks bool
	// Now is the clock API tokens expire by (default time.Now).
	Now func() time.Time
}

// Provider is the PayPal adapter. Make it with New: it holds the caches of fetched
// certificates, parsed cert_file pins and API tokens. The zero value works but caches
// nothing (every delivery downloads its certificate).
type Provider struct {
	opt   Options
	cache *caches
}

// caches are a Provider's; every copy of the Provider shares them.
type caches struct {
	certs  *certCache
	pinned sync.Map // path → pinnedFile
	tokens *tokenCache
}

// New returns a Provider with its own caches.
func New(o Options) Provider {
	return Provider{opt: o, cache: &caches{certs: &certCache{max: 32, m: map[string][]*x509.Certificate{}}, tokens: &tokenCache{m: map[string]token{}}}}
}

var (
	_ domain.Provider   = Provider{}
	_ domain.SingleUse  = Provider{}
	_ domain.Fetcher    = Provider{}
	_ webhook.Simulator = Provider{}
)

func (p Provider) timeout() time.Duration {
	if p.opt.FetchTimeout > 0 {
		return p.opt.FetchTimeout
	}
	return 10 * time.Second
}

func (p Provider) now() time.Time {
	if p.opt.Now != nil {
		return p.opt.Now()
	}
	return time.Now()
}

func (p Provider) client() *http.Client {
	if p.opt.Client != nil {
		return p.opt.Client
	}
	return &http.Client{
		Timeout: p.timeout(),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 || req.URL.Scheme != "https" || !paypalHost(req.URL.Hostname()) {
				return errors.New("redirect away from https paypal.com refused")
			}
			return nil
		},
	}
}

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

// CheckSource implements domain.Provider.
func (p Provider) CheckSource(src domain.Source) error {
	if strings.TrimSpace(src.Settings[SettingWebhookID]) == "" {
		return domain.Errorf(domain.EINVALID, "webhook_id: required for paypal sources; the Webhook ID shown for this URL in the PayPal developer dashboard (Apps & Credentials → your app → Webhooks)")
	}
	if len(src.Secrets) > 0 {
		return domain.Errorf(domain.EINVALID, "secrets: PayPal signs with a certificate, not a shared secret; leave secrets empty (the webhook id goes under webhook_id)")
	}
	if f := src.Settings[SettingCertFile]; f != "" {
		if _, err := p.loadPinned(f); err != nil {
			return domain.Errorf(domain.EINVALID, "cert_file: %s", domain.ErrorMessage(err))
		}
	}
	return checkCredentials(src)
}

// CRC32 is the IEEE CRC-32 of body as PayPal writes it in the signed message.
func CRC32(body []byte) string { return strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10) }

// SignedMessage is what PAYPAL-TRANSMISSION-SIG signs.
func SignedMessage(transmissionID, transmissionTime, webhookID string, body []byte) []byte {
	return []byte(transmissionID + "|" + transmissionTime + "|" + webhookID + "|" + CRC32(body))
}

// Verify implements domain.Provider. Returns EUNAVAILABLE when the certificate cannot be
// fetched (PayPal retries), EUNAUTHORIZED for everything else that fails.
func (p Provider) Verify(ctx context.Context, src domain.Source, d domain.Delivery) error {
	webhookID := strings.TrimSpace(src.Settings[SettingWebhookID])
	if webhookID == "" {
		return webhook.Reject("source %q has no webhook_id; PayPal signs the webhook id, so set webhook_id to the id PayPal shows for this webhook", src.ID)
	}
	h := d.Header
	id, ts, sig64, algo := h.Get(HeaderTransmissionID), h.Get(HeaderTransmissionTime), h.Get(HeaderTransmissionSig), h.Get(HeaderAuthAlgo)
	if id == "" || ts == "" || sig64 == "" {
		return webhook.Reject("PAYPAL-TRANSMISSION-ID, -TIME and -SIG headers are required")
	}
	if !strings.EqualFold(algo, "SHA256withRSA") {
		return webhook.Reject("PAYPAL-AUTH-ALGO %q is not supported; Tradewind verifies SHA256withRSA", algo)
	}
	sent, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return webhook.Reject("PAYPAL-TRANSMISSION-TIME %q is not an RFC 3339 time", ts)
	}
	if err := webhook.CheckTimestamp(sent.Unix(), d.ReceivedAt, Tolerance); err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil {
		return webhook.Reject("PAYPAL-TRANSMISSION-SIG is not base64")
	}
	certs, err := p.certificates(ctx, src, h.Get(HeaderCertURL), d.ReceivedAt)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(SignedMessage(id, ts, webhookID, d.Body))
	for _, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil {
			return nil
		}
	}
	return webhook.Reject("PAYPAL-TRANSMISSION-SIG does not verify; check webhook_id is this webhook's id (it is part of the signed message) and, with cert_file, that it holds PayPal's current certificate")
}

// certificates returns the certificates a delivery may be signed with, checked at t.
func (p Provider) certificates(ctx context.Context, src domain.Source, certURL string, t time.Time) ([]*x509.Certificate, error) {
	if f := src.Settings[SettingCertFile]; f != "" {
		pinned, err := p.loadPinned(f)
		if err != nil {
			return nil, webhook.Reject("source %q: cert_file: %s", src.ID, domain.ErrorMessage(err))
		}
		var valid []*x509.Certificate
		for _, c := range pinned {
			if p.opt.InsecureSkipCertChecks || (!t.Before(c.NotBefore) && !t.After(c.NotAfter)) {
				valid = append(valid, c)
			}
		}
		if len(valid) == 0 {
			return nil, webhook.Reject("no certificate in cert_file is valid at %s; pin PayPal's current certificate", t.UTC().Format(time.RFC3339))
		}
		return valid, nil
	}
	u, err := checkCertURL(certURL)
	if err != nil {
		return nil, err
	}
	chain, err := p.fetch(ctx, u)
	if err != nil {
		return nil, err
	}
	if !p.opt.InsecureSkipCertChecks {
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		leaf := chain[0]
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: p.opt.Roots, Intermediates: inter, CurrentTime: t, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, webhook.Reject("the certificate at PAYPAL-CERT-URL does not verify at %s: %v", t.UTC().Format(time.RFC3339), err)
		}
		named := false
		for _, host := range certHosts {
			named = named || leaf.VerifyHostname(host) == nil
		}
		if !named {
			return nil, webhook.Reject("the certificate at PAYPAL-CERT-URL is not issued to %s", strings.Join(certHosts, " or "))
		}
	}
	return chain[:1], nil
}

// checkCertURL allows only https URLs on paypal.com or its subdomains, before any request.
func checkCertURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, webhook.Reject("PAYPAL-CERT-URL header is missing (or pin the certificate with cert_file)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || !paypalHost(u.Hostname()) || (u.Port() != "" && u.Port() != "443") {
		return nil, webhook.Reject("PAYPAL-CERT-URL %q is not an https URL on paypal.com; refusing to fetch it", raw)
	}
	return u, nil
}

func paypalHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return h == "paypal.com" || strings.HasSuffix(h, ".paypal.com")
}

// maxCertBytes bounds a fetched certificate chain.
const maxCertBytes = 64 << 10

// fetch downloads the chain at u, or takes it from the cache. The download ends with
// ctx (the request's) or after FetchTimeout, whichever comes first.
func (p Provider) fetch(ctx context.Context, u *url.URL) ([]*x509.Certificate, error) {
	key := u.String()
	if p.cache != nil {
		if chain, ok := p.cache.certs.get(key); ok {
			return chain, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, key, nil)
	if err != nil {
		return nil, webhook.Reject("PAYPAL-CERT-URL %q is not a URL", key)
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return nil, domain.WrapError(err, domain.EUNAVAILABLE, "cannot fetch PayPal's certificate from PAYPAL-CERT-URL; PayPal will retry")
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		return nil, domain.Errorf(domain.EUNAVAILABLE, "PAYPAL-CERT-URL answered %d; PayPal will retry", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, webhook.Reject("PAYPAL-CERT-URL answered %d, not a certificate", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCertBytes))
	if err != nil {
		return nil, domain.WrapError(err, domain.EUNAVAILABLE, "reading PayPal's certificate failed; PayPal will retry")
	}
	chain, err := parsePEM(b)
	if err != nil {
		return nil, webhook.Reject("PAYPAL-CERT-URL: %s", domain.ErrorMessage(err))
	}
	if p.cache != nil {
		p.cache.certs.put(key, chain)
	}
	return chain, nil
}

func parsePEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "a PEM certificate does not parse: %v", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "no PEM CERTIFICATE block found")
	}
	return out, nil
}

// certCache caches fetched chains by URL, bounded, oldest out first; safe for concurrent use.
type certCache struct {
	mu    sync.Mutex
	max   int
	order []string
	m     map[string][]*x509.Certificate
}

func (c *certCache) get(k string) ([]*x509.Certificate, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *certCache) put(k string, v []*x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	for len(c.order) >= c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[k] = v
	c.order = append(c.order, k)
}

// pinnedFile is a cert_file entry's parsed certificates, reloaded when the file changes.
type pinnedFile struct {
	mod   time.Time
	size  int64
	certs []*x509.Certificate
}

// loadPinned reads cert_file: one or more comma-separated PEM files, parsed once per
// file version when the Provider has caches.
func (p Provider) loadPinned(list string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, path := range strings.Split(list, ",") {
		path = strings.TrimSpace(path)
		if path == "" {
			continue
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: cannot read: %v", path, errors.Unwrap(err))
		}
		if v, ok := p.pinnedFile(path); ok {
			if pf := v.(pinnedFile); pf.mod.Equal(st.ModTime()) && pf.size == st.Size() {
				out = append(out, pf.certs...)
				continue
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: cannot read: %v", path, errors.Unwrap(err))
		}
		cs, err := parsePEM(b)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %s", path, domain.ErrorMessage(err))
		}
		if p.cache != nil {
			p.cache.pinned.Store(path, pinnedFile{mod: st.ModTime(), size: st.Size(), certs: cs})
		}
		out = append(out, cs...)
	}
	if len(out) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "no certificate file named; give one or more PEM files, comma-separated")
	}
	return out, nil
}

func (p Provider) pinnedFile(path string) (any, bool) {
	if p.cache == nil {
		return nil, false
	}
	return p.cache.pinned.Load(path)
}

// Transmission implements domain.SingleUse: PAYPAL-TRANSMISSION-ID (signed, with the
// time) may carry one body only. A replay can verify while the signed time is within
// Tolerance of the receive time, so the id is remembered until then, plus a minute for
// clocks that differ between replicas.
func (Provider) Transmission(_ domain.Source, d domain.Delivery) (domain.Transmission, bool) {
	id := d.Header.Get(HeaderTransmissionID)
	sent, err := time.Parse(time.RFC3339Nano, d.Header.Get(HeaderTransmissionTime))
	if id == "" || err != nil {
		return domain.Transmission{}, false
	}
	return domain.Transmission{ID: id, Until: sent.Add(Tolerance + time.Minute)}, true
}

// event is PayPal's webhook event envelope.
type event struct {
	ID           string          `json:"id"`
	EventType    string          `json:"event_type"`
	CreateTime   string          `json:"create_time"`
	ResourceType string          `json:"resource_type"`
	Resource     json.RawMessage `json:"resource"`
}

func decode(body []byte) (event, error) {
	var e event
	if err := webhook.DecodeJSON(body, &e); err != nil {
		return e, webhook.Invalid("body is not a PayPal event: %v", err)
	}
	if e.ID == "" || e.EventType == "" {
		return e, webhook.Invalid("PayPal event lacks id or event_type")
	}
	return e, nil
}

// Parse implements domain.Provider.
func (Provider) Parse(_ domain.Source, d domain.Delivery) ([]domain.Message, error) {
	e, err := decode(d.Body)
	if err != nil {
		return nil, err
	}
	return []domain.Message{{ID: e.ID, Type: e.EventType, OccurredAt: webhook.ParseTime(e.CreateTime), Payload: d.Body}}, nil
}

var handled = map[string]bool{
	"CHECKOUT.ORDER.APPROVED":   true,
	"CHECKOUT.ORDER.COMPLETED":  true,
	"PAYMENT.CAPTURE.COMPLETED": true,
	"PAYMENT.CAPTURE.DENIED":    true,
	"PAYMENT.CAPTURE.PENDING":   true,
	"PAYMENT.CAPTURE.REFUNDED":  true,
	"PAYMENT.CAPTURE.REVERSED":  true,
	"PAYMENT.SALE.COMPLETED":    true,
	"PAYMENT.SALE.REFUNDED":     true,
	"CUSTOMER.DISPUTE.CREATED":  true,
	"CUSTOMER.DISPUTE.UPDATED":  true,
	"CUSTOMER.DISPUTE.RESOLVED": true,
}

// Handles implements domain.Provider.
func (Provider) Handles(eventType string) bool { return handled[eventType] }
