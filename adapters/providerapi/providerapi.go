// Package providerapi is what the providers' REST clients, and the fakes of
// their APIs, share.
//
// Client calls a provider's REST API politely, the way the reconciliation's
// listing clients (Stripe, Square, PayPal, Shopify, WooCommerce, BigCommerce)
// all do: a GET with the source's credentials, retried a few times with backoff
// when the provider or the network fails, a 429 waited out for its Retry-After
// through an injectable, context-aware wait (Retry), refusals worded alike, and
// the JSON answer decoded, with the response's headers and the Link header's
// rel="next" URL for paging. BaseURL and HTTPClient read what each client's
// constructor needs of its source. Each provider's client keeps what is its
// own: its paths, its credentials and how they are sent, its pages' cursors,
// the shapes of its answers and the words of its refusals (which credential to
// give, which scope).
//
// Faults, PageOf and WriteJSON serve the other side: the test double of its
// API each provider's adapter serves (to the tests, and in `tradewind
// simulate`), whose paths, filters, cursors and bodies are its own.
package providerapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// DefaultAttempts is how many tries one GET gets when Client.Attempts is 0.
const DefaultAttempts = 3

// DefaultMaxBody bounds one response's body when Client.MaxBody is 0.
const DefaultMaxBody = 32 << 20

// MaxRetryAfter caps how long one 429 is waited out.
const MaxRetryAfter = time.Minute

// SettingBaseURL is the source setting that points a client at another root
// of its provider's API than the production one: a sandbox or a test double.
const SettingBaseURL = "api_base_url"

// DefaultTimeout bounds each request of the HTTP client HTTPClient makes.
const DefaultTimeout = 30 * time.Second

// BaseURL is src's api_base_url (def when unset), without a trailing slash.
// Returns EINVALID, naming the source, unless it is an http(s) URL with a
// host; fix ends that message with how to put it right ("leave it out for
// https://api.stripe.com").
func BaseURL(src domain.Source, def, fix string) (string, error) {
	base := strings.TrimRight(src.Setting(SettingBaseURL, def), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", domain.Errorf(domain.EINVALID, "source %s: %s: %q is not an http(s) URL; %s", src.ID, SettingBaseURL, base, fix)
	}
	return base, nil
}

// HTTPClient is hc, or when hc is nil a client whose requests time out after
// DefaultTimeout (a provider's client is never left without a timeout).
func HTTPClient(hc *http.Client) *http.Client {
	if hc == nil {
		return &http.Client{Timeout: DefaultTimeout}
	}
	return hc
}

// Client GETs JSON from one provider's REST API. Its zero value is not usable:
// set HTTP, and Authorize for any API that needs credentials.
type Client struct {
	HTTP *http.Client
	// Authorize sets the request's credentials (a header); nil sends none.
	Authorize func(*http.Request)
	// Name starts the messages of failed tries and of refusals: "stripe GET".
	Name string
	// Body names the JSON expected, in the message of an answer that is not it:
	// "Shopify's orders JSON".
	Body string
	// MaxBody bounds one response's body (DefaultMaxBody when 0).
	MaxBody int64

	// An answer that retrying cannot change (any status but 200, 204, 429 and
	// 5xx) is a refusal, which Get returns at once, worded "<Name> <path>:
	// HTTP <status>: …". Unauthorized ends the message of a 401 or 403
	// (EUNAUTHORIZED): which credential was refused and what to give instead.
	Unauthorized string
	// NotFound makes a 404 ENOTFOUND, for an API that looks records up by id;
	// otherwise a 404 is EINVALID like any other refusal.
	NotFound bool
	// ErrorText reads the provider's message out of a refusal's body ("" when
	// it has none) for the message of any other refusal (EINVALID).
	ErrorText func(body []byte) string

	// Wait429 is how long a 429's headers ask to wait (RetryAfter of its
	// Retry-After when nil).
	Wait429 func(h http.Header) time.Duration
	Retry
}

// Retry is how a client retries a GET that failed: what the reconciliation
// (and a test) sets on every provider's client, which embeds it.
type Retry struct {
	// Sleep waits d or until ctx ends (a context-aware timer when nil): tests
	// inject one that does not sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// Attempts bounds the tries at one GET (DefaultAttempts when 0); 429s wait and count too.
	Attempts int
	// OnRetry, when set, hears of each failed try that is retried.
	OnRetry func(err error)
}

// Page is what a successful GET returned besides the decoded body.
type Page struct {
	// Status is 200, or 204 No Content (nothing was decoded).
	Status int
	Header http.Header
	// Next is the Link header's rel="next" URL, or "".
	Next string
}

// Get GETs url and decodes its JSON answer into v, waiting out 429s and
// retrying failures (transport errors, 5xx, unreadable answers) up to Attempts
// with a growing backoff (½ s, 1 s, …). desc names what is fetched in messages
// ("orders page 2"). Returns EUNAVAILABLE when every try failed, EUNAUTHORIZED,
// ENOTFOUND or EINVALID for a refusal (see Client.Unauthorized), and ctx's
// error when ctx ends.
func (c *Client) Get(ctx context.Context, url, desc string, v any) (Page, error) {
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var last error
	for try := 1; try <= attempts; try++ {
		page, wait, err := c.get(ctx, url, v)
		if err == nil {
			return page, nil
		}
		if final(err) || ctx.Err() != nil {
			return Page{}, err
		}
		last = err
		if try == attempts {
			break
		}
		if c.OnRetry != nil {
			c.OnRetry(fmt.Errorf("%s %s: try %d of %d failed, retried: %w", c.Name, desc, try, attempts, err))
		}
		if wait == 0 {
			wait = time.Duration(try) * 500 * time.Millisecond
		}
		if err := c.sleep(ctx, wait); err != nil {
			return Page{}, err
		}
	}
	return Page{}, domain.WrapError(last, domain.EUNAVAILABLE, fmt.Sprintf("%s %s failed %d times: %v", c.Name, desc, attempts, last))
}

// final reports whether err is a refusal that retrying cannot change.
func final(err error) bool {
	switch domain.ErrorCode(err) {
	case domain.EUNAUTHORIZED, domain.ENOTFOUND, domain.EINVALID:
		return true
	}
	return false
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// get makes one request. For a 429 it returns how long Retry-After asks to wait.
func (c *Client) get(ctx context.Context, url string, v any) (Page, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Page{}, 0, domain.WrapError(err, domain.EINVALID, fmt.Sprintf("%s: cannot build the request: %v", c.Name, err))
	}
	if c.Authorize != nil {
		c.Authorize(req)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Page{}, 0, fmt.Errorf("request: %w", err)
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return Page{}, 0, fmt.Errorf("read response: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := RetryAfter(resp.Header.Get("Retry-After"))
		if c.Wait429 != nil {
			wait = max(c.Wait429(resp.Header), time.Millisecond)
		}
		return Page{}, wait, errors.New("HTTP 429: rate limited")
	case resp.StatusCode >= 500:
		return Page{}, 0, fmt.Errorf("HTTP %d", resp.StatusCode)
	case resp.StatusCode == http.StatusNoContent:
		return Page{Status: resp.StatusCode, Header: resp.Header, Next: NextLink(resp.Header.Values("Link"))}, 0, nil
	case resp.StatusCode != http.StatusOK:
		return Page{}, 0, c.refusal(req.URL.Path, resp.StatusCode, body)
	case int64(len(body)) > limit:
		return Page{}, 0, fmt.Errorf("response over %d bytes", limit)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return Page{}, 0, fmt.Errorf("response is not %s: %v", c.Body, err)
	}
	return Page{Status: resp.StatusCode, Header: resp.Header, Next: NextLink(resp.Header.Values("Link"))}, 0, nil
}

// refusal words an answer that retrying cannot change to the request for path.
func (c *Client) refusal(path string, status int, body []byte) error {
	what := c.Name + " " + path
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return domain.Errorf(domain.EUNAUTHORIZED, "%s: HTTP %d: %s", what, status, cmp.Or(c.Unauthorized, "the credentials were refused"))
	case status == http.StatusNotFound && c.NotFound:
		return domain.Errorf(domain.ENOTFOUND, "%s: HTTP 404", what)
	}
	msg := ""
	if c.ErrorText != nil {
		msg = c.ErrorText(body)
	}
	return domain.Errorf(domain.EINVALID, "%s: HTTP %d: %s", what, status, cmp.Or(msg, "unexpected answer"))
}

// RetryAfter is how long a 429's Retry-After header (seconds, whole or
// decimal: Shopify writes "2.0") asks to wait: 1 s when absent or unreadable,
// at most MaxRetryAfter, and never 0 (asked to retry at once, it is still a try).
func RetryAfter(header string) time.Duration {
	wait := time.Second
	if s, err := strconv.ParseFloat(strings.TrimSpace(header), 64); err == nil && s >= 0 { // NaN is not
		wait = MaxRetryAfter
		if s < MaxRetryAfter.Seconds() {
			wait = time.Duration(s * float64(time.Second))
		}
	}
	if wait == 0 {
		wait = time.Millisecond
	}
	return wait
}

var linkPart = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?([a-z]+)"?`)

// NextLink is the rel="next" URL of Link headers (RFC 8288), or "".
func NextLink(headers []string) string {
	for _, h := range headers {
		for _, m := range linkPart.FindAllStringSubmatch(h, -1) {
			if m[2] == "next" {
				return m[1]
			}
		}
	}
	return ""
}
