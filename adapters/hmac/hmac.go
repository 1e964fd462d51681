// Package hmac is a configurable source for senders that sign their webhooks with a
// shared-secret HMAC in a header: in-house systems, small platforms, scripts.
//
// Scheme (all from the source's settings): the header named by header carries
// prefix + encode(HMAC-<algorithm>(secret, message)), where message is the raw body, or
// timestamp + "." + body when timestamp_header is set (the timestamp, unix seconds, is
// read from that header and must be within tolerance of the receive time). Several
// signatures may be sent comma-separated (sender-side rotation); every configured secret
// is tried (receiver-side rotation). Dedupe on the JSON value at id_path.
//
// Format: Tradewind's generic event format (package generic, docs/generic-format.md), the
// one the standardwebhooks source also reads, with its type at type_path instead of
// "type". Its signed time, when the body gives none, is the timestamp header's.
package hmac

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/generic"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// Kind is the provider: value of generic HMAC sources.
const Kind = "hmac"

// Settings keys read from the source.
const (
	SettingHeader          = "header"
	SettingAlgorithm       = "algorithm"
	SettingEncoding        = "encoding"
	SettingPrefix          = "prefix"
	SettingTimestampHeader = "timestamp_header"
	SettingTolerance       = "tolerance"
	SettingIDPath          = "id_path"
	SettingTypePath        = "type_path"
)

// Provider is the generic HMAC adapter. The zero value is ready to use.
type Provider struct{}

var (
	_ domain.Provider   = Provider{}
	_ webhook.Simulator = Provider{}
)

// Kind implements domain.Provider.
func (Provider) Kind() string { return Kind }

// config is a source's scheme, read from its settings.
type config struct {
	header, algorithm, encoding, prefix string
	hash                                func() hash.Hash
	timestampHeader                     string
	tolerance                           time.Duration
	idPath, typePath                    []string
}

func invalid(format string, args ...any) error {
	return domain.Errorf(domain.EINVALID, format, args...)
}

func path(key, v string) ([]string, error) {
	parts := strings.Split(v, ".")
	for _, p := range parts {
		if p == "" {
			return nil, invalid("%s: %q is not a dot path into the JSON body (e.g. \"id\" or \"event.id\")", key, v)
		}
	}
	return parts, nil
}

func readConfig(src domain.Source) (config, error) {
	c := config{
		header:          strings.TrimSpace(src.Settings[SettingHeader]),
		algorithm:       strings.ToLower(src.Setting(SettingAlgorithm, "sha256")),
		encoding:        strings.ToLower(src.Setting(SettingEncoding, "hex")),
		prefix:          src.Settings[SettingPrefix],
		timestampHeader: strings.TrimSpace(src.Settings[SettingTimestampHeader]),
		tolerance:       webhook.DefaultTolerance,
	}
	if c.header == "" {
		return c, invalid("header: required for hmac sources; the name of the header that carries the signature, e.g. X-Signature")
	}
	if c.hash = webhook.HashFunc(c.algorithm); c.hash == nil {
		return c, invalid("algorithm: %q is not supported; use sha1, sha256 (the default) or sha512", c.algorithm)
	}
	if c.encoding != "hex" && c.encoding != "base64" {
		return c, invalid("encoding: %q is not supported; use hex (the default) or base64", c.encoding)
	}
	if v := src.Settings[SettingTolerance]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, invalid("tolerance: %q is not a positive Go duration such as 5m or 300s", v)
		}
		if c.timestampHeader == "" {
			return c, invalid("tolerance: set, but timestamp_header is not; a tolerance needs the header that carries the signed timestamp")
		}
		c.tolerance = d
	}
	var err error
	if c.idPath, err = path(SettingIDPath, src.Setting(SettingIDPath, "id")); err != nil {
		return c, err
	}
	if c.typePath, err = path(SettingTypePath, src.Setting(SettingTypePath, "type")); err != nil {
		return c, err
	}
	return c, nil
}

// CheckSource implements domain.Provider.
func (Provider) CheckSource(src domain.Source) error {
	if _, err := readConfig(src); err != nil {
		return err
	}
	if len(src.Secrets) == 0 {
		return invalid("secrets: an hmac source needs the shared secret the sender signs with")
	}
	for i, s := range src.Secrets {
		if s == "" {
			return invalid("secrets[%d]: empty; set it or remove it", i)
		}
	}
	return nil
}

func (c config) message(ts string, body []byte) []byte {
	if c.timestampHeader == "" {
		return body
	}
	msg := make([]byte, 0, len(ts)+1+len(body))
	return append(append(append(msg, ts...), '.'), body...)
}

func (c config) encode(sum []byte) string {
	if c.encoding == "base64" {
		return c.prefix + base64.StdEncoding.EncodeToString(sum)
	}
	return c.prefix + hex.EncodeToString(sum)
}

func (c config) decode(s string) ([]byte, bool) {
	if c.encoding == "base64" {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				return b, true
			}
		}
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// Sign returns the signature header value (and the timestamp header value, when the
// source signs one) a sender configured like src would send for body at now.
func Sign(src domain.Source, secret string, body []byte, now time.Time) (signature, timestamp string, err error) {
	c, err := readConfig(src)
	if err != nil {
		return "", "", err
	}
	if c.timestampHeader != "" {
		timestamp = strconv.FormatInt(now.Unix(), 10)
	}
	return c.encode(webhook.HMAC(c.hash, []byte(secret), c.message(timestamp, body))), timestamp, nil
}

// Verify implements domain.Provider.
func (Provider) Verify(_ context.Context, src domain.Source, d domain.Delivery) error {
	if err := webhook.RequireSecrets(src); err != nil {
		return err
	}
	c, err := readConfig(src)
	if err != nil {
		return webhook.Reject("source %q is misconfigured: %s", src.ID, domain.ErrorMessage(err))
	}
	value := strings.TrimSpace(d.Header.Get(c.header))
	if value == "" {
		return webhook.Reject("signature header %s is missing", c.header)
	}
	var candidates [][]byte
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if c.prefix != "" {
			if !strings.HasPrefix(part, c.prefix) {
				continue
			}
			part = part[len(c.prefix):]
		}
		if sig, ok := c.decode(part); ok {
			candidates = append(candidates, sig)
		}
	}
	if len(candidates) == 0 {
		return webhook.Reject("signature header %s holds no %s signature with prefix %q", c.header, c.encoding, c.prefix)
	}
	ts := ""
	if c.timestampHeader != "" {
		ts = strings.TrimSpace(d.Header.Get(c.timestampHeader))
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return webhook.Reject("timestamp header %s is missing or not a unix time", c.timestampHeader)
		}
		if err := webhook.CheckTimestamp(n, d.ReceivedAt, c.tolerance); err != nil {
			return err
		}
	}
	msg := c.message(ts, d.Body)
	expected := make([][]byte, len(src.Secrets))
	for i, s := range src.Secrets {
		expected[i] = webhook.HMAC(c.hash, []byte(s), msg)
	}
	if !webhook.MatchAny(expected, candidates) {
		return webhook.Reject("no signature in %s matches any configured secret; check the secret and the source's algorithm (%s), encoding (%s) and prefix", c.header, c.algorithm, c.encoding)
	}
	return nil
}

func lookup(doc any, p []string) (any, bool) {
	for _, k := range p {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = m[k]; !ok {
			return nil, false
		}
	}
	return doc, true
}

// scalar returns a string or number at p as a string.
func scalar(doc any, p []string) (string, bool) {
	v, ok := lookup(doc, p)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, v != ""
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// Parse implements domain.Provider.
func (Provider) Parse(src domain.Source, d domain.Delivery) ([]domain.Message, error) {
	c, err := readConfig(src)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := webhook.DecodeJSON(d.Body, &doc); err != nil {
		return nil, webhook.Invalid("body is not JSON: %v", err)
	}
	id, ok := scalar(doc, c.idPath)
	if !ok {
		return nil, webhook.Invalid("no string or number id at %s (id_path)", strings.Join(c.idPath, "."))
	}
	typ, ok := scalar(doc, c.typePath)
	if !ok {
		return nil, webhook.Invalid("no string type at %s (type_path)", strings.Join(c.typePath, "."))
	}
	m := domain.Message{ID: id, Type: typ, Payload: d.Body}
	if c.timestampHeader != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(d.Header.Get(c.timestampHeader)), 10, 64); err == nil {
			m.OccurredAt = time.Unix(n, 0).UTC()
		}
	}
	return []domain.Message{m}, nil
}

// Handles implements domain.Provider: the domain event names of the generic format.
func (Provider) Handles(eventType string) bool { return generic.Handles(eventType) }

// Normalize implements domain.Provider: the body in Tradewind's generic format, the id
// and type found by Parse, the timestamp header's time when the body gives none.
func (Provider) Normalize(src domain.Source, m domain.Message) ([]domain.Event, error) {
	return generic.Normalize(Kind, src, m)
}
