// Package webhookdest sends deliveries to destinations of kind webhook: an HTTP
// POST signed the Standard Webhooks way. (adapters/standardwebhooks is the
// provider that receives such webhooks; adapters/webhook holds helpers shared by
// providers. This package is the sending side, and reuses the signing of the
// first.)
package webhookdest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/domain"
)

// SequenceHeader carries an order event's sequence (see Body).
const SequenceHeader = "Tradewind-Sequence"

// snippetMax bounds the part of a response body kept with a failed attempt.
const snippetMax = 256

// Renderer reads what a body's data shows when it is sent.
type Renderer struct {
	Orders    domain.OrderReader
	Conflicts interface {
		List(ctx context.Context, f domain.ConflictFilter) ([]domain.Conflict, error)
	}
	Inventory interface {
		Stock(ctx context.Context, sku string) (domain.Stock, error)
	}
}

// Message is a delivery's body.
type Message struct {
	Type      domain.DownstreamType `json:"type"`
	Timestamp time.Time             `json:"timestamp"`
	// Sequence orders an order's events: a receiver keeps the body with the
	// highest sequence it has seen and drops lower ones. The data is read when the
	// message is sent, so the highest sequence always carries the latest state.
	Sequence int64           `json:"sequence,omitempty"`
	Data     json.RawMessage `json:"data"`
}

// Body renders o's body: the order as GET /api/v1/orders/{ref} shows it now, the
// SKU's stock now, or the customer fixed when the event was decided.
func (r *Renderer) Body(ctx context.Context, o domain.Outbound, now time.Time) ([]byte, error) {
	var data any
	switch {
	case o.Data != nil:
		data = o.Data
	case o.Type == domain.DownStockChanged:
		st, err := r.Inventory.Stock(ctx, o.SKU)
		if err != nil {
			return nil, fmt.Errorf("stock of %q: %w", o.SKU, err)
		}
		data = st
	case o.OrderRef != "":
		ord, events, err := r.Orders.Order(ctx, o.OrderRef)
		if err != nil {
			return nil, fmt.Errorf("order %q: %w", o.OrderRef, err)
		}
		conflicts, err := r.Conflicts.List(ctx, domain.ConflictFilter{OrderRef: ord.Ref, Limit: 100})
		if err != nil {
			return nil, fmt.Errorf("conflicts of order %q: %w", o.OrderRef, err)
		}
		data = domain.NewOrderDocument(ord, events, conflicts)
	default:
		data = struct{}{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Message{Type: o.Type, Timestamp: now.UTC().Truncate(time.Second), Sequence: o.Sequence, Data: raw})
}

// Sender is the domain.Sender of kind webhook.
type Sender struct {
	Render *Renderer
	Client *http.Client // nil: a client that follows no redirect
}

var _ domain.Sender = (*Sender)(nil)

// Send implements domain.Sender: one signed POST, within d.Timeout.
func (s *Sender) Send(ctx context.Context, d domain.Destination, o domain.Outbound, now time.Time) domain.SendResult {
	body, err := s.Render.Body(ctx, o, now)
	if err != nil {
		return domain.SendResult{Err: fmt.Errorf("render the body: %w", err), Local: true}
	}
	keys := make([][]byte, 0, len(d.Secrets))
	for _, sec := range d.Secrets {
		k, err := stdwebhooks.DecodeSecret(sec)
		if err != nil {
			return domain.SendResult{Err: err, Local: true}
		}
		keys = append(keys, k)
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = domain.DefaultDestinationTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return domain.SendResult{Err: fmt.Errorf("destination url: %w", err), Local: true}
	}
	SetHeaders(req.Header, keys, o.WebhookID, now.Unix(), body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Tradewind")
	if o.Sequence > 0 {
		req.Header.Set(SequenceHeader, strconv.FormatInt(o.Sequence, 10))
	}
	start := time.Now()
	resp, err := s.client().Do(req)
	if err != nil {
		res := domain.SendResult{Latency: time.Since(start)}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.Err = fmt.Errorf("no answer within the timeout of %s", timeout)
		} else {
			res.Err = fmt.Errorf("request failed: %s", bounded(err.Error()))
		}
		return res
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, snippetMax))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return Result(resp.StatusCode, resp.Header.Get("Retry-After"), snippet, time.Since(start), now)
}

// Result classifies an answer: 2xx delivered, 410 gone, anything else a failure
// (with Retry-After read on 429 and 503).
func Result(code int, retryAfter string, snippet []byte, latency time.Duration, now time.Time) domain.SendResult {
	res := domain.SendResult{StatusCode: code, Latency: latency}
	if code >= 200 && code < 300 {
		return res
	}
	res.Err = fmt.Errorf("HTTP %d: %s", code, bounded(string(snippet)))
	switch code {
	case http.StatusGone:
		res.Gone = true
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		res.RetryAfter = ParseRetryAfter(retryAfter, now)
	}
	return res
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date; 0
// when absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// SetHeaders sets the Standard Webhooks headers: webhook-id, webhook-timestamp,
// and one v1 signature per key, space-separated (during a rotation the receiver
// accepts any of them).
func SetHeaders(h http.Header, keys [][]byte, id string, ts int64, body []byte) {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		sigs[i] = stdwebhooks.Signature(k, id, ts, body)
	}
	h.Set(stdwebhooks.IDHeader, id)
	h.Set(stdwebhooks.TimestampHeader, strconv.FormatInt(ts, 10))
	h.Set(stdwebhooks.SignatureHeader, strings.Join(sigs, " "))
}

func (s *Sender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return defaultClient
}

var defaultClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// bounded keeps a printable, bounded part of text for an attempt's record.
func bounded(text string) string {
	text = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, text)
	if len(text) > snippetMax {
		text = strings.ToValidUTF8(text[:snippetMax], "") + "…"
	}
	return strings.TrimSpace(text)
}
