package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// This file is the scaffold of gateways whose callbacks come unsigned through the
// shopper's browser (PlugnPay, PowerTranz): the adapter asks the gateway server to server
// before anything is applied. What is asked and how the answer is judged stays in the
// adapter.

// gatewayClient calls a gateway when the adapter has no client of its own.
var gatewayClient = &http.Client{Timeout: 30 * time.Second}

// maxGatewayAnswer bounds how much of a gateway's answer is read.
const maxGatewayAnswer = 1 << 20

// Unavailable returns the EUNAVAILABLE error a call to a provider fails with when a later
// retry may succeed; err, which may be nil, is kept as the cause.
func Unavailable(err error, format string, args ...any) error {
	e := domain.Errorf(domain.EUNAVAILABLE, format, args...)
	e.Err = err
	return e
}

// SettingOrSecret returns src's setting key, or its first secret when that setting is
// empty, or "".
func SettingOrSecret(src domain.Source, key string) string {
	if v := src.Settings[key]; v != "" {
		return v
	}
	if len(src.Secrets) > 0 {
		return src.Secrets[0]
	}
	return ""
}

// CheckBaseURL returns EINVALID unless src's setting key is an absolute http(s) URL. kind
// is the provider: value and hint says, for a missing URL, what to put there.
func CheckBaseURL(src domain.Source, key, kind, hint string) error {
	raw := src.Settings[key]
	if raw == "" {
		return domain.Errorf(domain.EINVALID, "%s: required for %s sources; %s", key, kind, hint)
	}
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return domain.Errorf(domain.EINVALID, "%s: %q is not an absolute http(s) URL", key, raw)
	}
	return nil
}

// PostToGateway POSTs body with header to baseURL+path and returns the answer's status
// and body (at most 1 MiB). client nil means a client with a 30 s timeout; gateway names
// the provider in messages ("PlugnPay"). It returns EUNAVAILABLE, to be retried, when the
// gateway cannot be reached, its answer cannot be read, or it answers 429 or 5xx. Any
// other status is the caller's to judge.
func PostToGateway(ctx context.Context, client *http.Client, gateway, baseURL, path string, header http.Header, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, Unavailable(err, "building the %s request failed", gateway)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if client == nil {
		client = gatewayClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, Unavailable(err, "%s %s is unreachable; will retry", gateway, path)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxGatewayAnswer))
	switch {
	case err != nil:
		return 0, nil, Unavailable(err, "reading %s's answer failed; will retry", gateway)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return 0, nil, Unavailable(nil, "%s answered %d; will retry", gateway, resp.StatusCode)
	}
	return resp.StatusCode, raw, nil
}
