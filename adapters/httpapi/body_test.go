package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/httpapi"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// serve runs e's server on a real listener until the test ends and returns its address.
func (e *guardEnv) serve() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = e.server.App().Listener(ln) }()
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.server.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// slowBody is a connection that has sent a request's headers and part of its body.
type slowBody struct {
	conn net.Conn
	rest []byte
	r    *bufio.Reader
}

// startBody sends the headers of a POST to path with a body of size bytes, and
// the first part of that body.
func startBody(t *testing.T, addr, path string, size, part int) *slowBody {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := bytes.Repeat([]byte("x"), size)
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, size, body[:part]); err != nil {
		t.Fatal(err)
	}
	return &slowBody{conn: conn, rest: body[part:], r: bufio.NewReader(conn)}
}

func (s *slowBody) finish(t *testing.T) *http.Response {
	t.Helper()
	if _, err := s.conn.Write(s.rest); err != nil {
		t.Fatal(err)
	}
	return s.response(t)
}

func (s *slowBody) response(t *testing.T) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var eb struct {
		Error struct{ Code string } `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &eb)
	return eb.Error.Code
}

// TestBodyBytesInFlightAreBounded: request bodies held at once across
// connections never exceed TRADEWIND_MAX_INFLIGHT_BODY_BYTES. Slow bodies that
// fit are held; the next one is answered 503 with Retry-After at once, without
// its body being read, and recorded as overloaded; a small webhook that still
// fits is accepted; API requests share the same budget; once the slow bodies
// arrive, everything held is released.
func TestBodyBytesInFlightAreBounded(t *testing.T) {
	t.Parallel()
	const (
		size  = 40 << 10  // each slow body
		limit = 128 << 10 // room for 3 of them, and 8 KB more
	)
	e := newGuardEnvWith(t, map[string]domain.Source{"acme": {ID: "acme", Provider: stripe.Kind, Secrets: []string{secret}}},
		func(p *httpapi.Params) { p.MaxInflightBody = limit })
	addr := e.serve()

	var slow []*slowBody
	for i := range 3 {
		slow = append(slow, startBody(t, addr, "/webhooks/acme", size, 10<<10))
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			now, _ := e.server.BodyBytesInFlight()
			return now == int64((i+1)*size), fmt.Sprintf("%d bytes held for %d slow bodies (now %d)", (i+1)*size, i+1, now)
		})
	}

	over := startBody(t, addr, "/webhooks/acme", size, 10<<10)
	resp := over.response(t)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || errorCode(t, resp) != domain.CauseOverloaded {
		t.Errorf("a body past the budget: %d (Retry-After %q), want 503 overloaded with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := e.rejections(domain.CauseOverloaded); n != 1 {
		t.Errorf("overloaded rejections = %d, want 1", n)
	}
	api := startBody(t, addr, "/api/v1/inventory/SKU-1", 20<<10, 10<<10)
	if resp := api.response(t); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("an API body past the budget: %d, want 503", resp.StatusCode)
	}

	// A small webhook fits in what is left.
	if r := e.postTo("http://"+addr, "acme"); r.status != http.StatusOK {
		t.Errorf("a small webhook beside the held bodies: %+v, want 200", r)
	}

	for i, s := range slow {
		if resp := s.finish(t); resp.StatusCode != http.StatusUnauthorized { // unsigned junk, read whole, then refused
			t.Errorf("slow body %d once complete: %d, want 401", i, resp.StatusCode)
		}
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		now, _ := e.server.BodyBytesInFlight()
		return now == 0, fmt.Sprintf("every body released (held %d)", now)
	})
	if _, peak := e.server.BodyBytesInFlight(); peak > limit || peak < 3*size {
		t.Errorf("peak bytes held = %d, want between %d and the %d-byte limit", peak, 3*size, limit)
	}
}

// TestBodyOverTheLimitIsRefusedBeforeItIsRead: a Content-Length over
// TRADEWIND_MAX_BODY_BYTES is answered 413 without the body being read, and
// nothing is held for it.
func TestBodyOverTheLimitIsRefusedBeforeItIsRead(t *testing.T) {
	t.Parallel()
	e := newGuardEnvWith(t, map[string]domain.Source{"acme": {ID: "acme", Provider: stripe.Kind, Secrets: []string{secret}}},
		func(*httpapi.Params) {})
	addr := e.serve()
	big := startBody(t, addr, "/webhooks/acme", 100<<20, 16<<10) // 100 MB announced, 16 KB sent (fasthttp waits for the first 8 KB)
	resp := big.response(t)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, resp) != domain.ETOOLARGE {
		t.Errorf("100 MB announced: %d, want 413 too_large", resp.StatusCode)
	}
	if !resp.Close {
		t.Error("the connection stays open after a body that was not read; want Connection: close")
	}
	if _, peak := e.server.BodyBytesInFlight(); peak != 0 {
		t.Errorf("peak bytes held = %d, want 0", peak)
	}
	if n := e.rejections(domain.CausePayloadTooLarge); n != 1 {
		t.Errorf("payload_too_large rejections = %d, want 1", n)
	}
}

// TestUnreadBodyIsNeverReadAsARequest: a request answered without its body
// being read (an unknown source) must not leave that body to be parsed as the
// connection's next request: a request smuggled in it is never served.
func TestUnreadBodyIsNeverReadAsARequest(t *testing.T) {
	t.Parallel()
	e := newGuardEnvWith(t, map[string]domain.Source{"acme": {ID: "acme", Provider: stripe.Kind, Secrets: []string{secret}}},
		func(*httpapi.Params) {})
	addr := e.serve()
	inner, err := stripe.Provider{}.Sample(domain.Source{ID: "acme", Secrets: []string{secret}}, "payment_intent.succeeded",
		webhook.SampleOptions{EventID: "evt_smuggled", OrderRef: "9001", Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var smuggled strings.Builder
	fmt.Fprintf(&smuggled, "POST /webhooks/acme HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nStripe-Signature: %s\r\nContent-Length: %d\r\n\r\n%s",
		inner.Header.Get("Stripe-Signature"), len(inner.Body), inner.Body)
	for _, size := range []int{smuggled.Len(), 20 << 10} { // prefetched whole, and not
		name := fmt.Sprintf("body of %d bytes", size)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		body := smuggled.String() + strings.Repeat(" ", size-smuggled.Len())
		fmt.Fprintf(conn, "POST /webhooks/nope HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%sGET /healthz HTTP/1.1\r\nHost: test\r\n\r\n", len(body), body)
		r := bufio.NewReader(conn)
		first, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		first.Body.Close()
		if first.StatusCode != http.StatusNotFound {
			t.Errorf("%s: first answer %d, want 404", name, first.StatusCode)
		}
		if second, err := http.ReadResponse(r, nil); err == nil {
			b, _ := io.ReadAll(second.Body)
			second.Body.Close()
			if second.StatusCode != http.StatusOK || !strings.Contains(string(b), `"ok"`) {
				t.Errorf("%s: the next answer on the connection is %d %s, want the /healthz that followed the body (or a closed connection)", name, second.StatusCode, b)
			}
		}
		conn.Close()
	}
	var stored int
	if err := e.db.Get(&stored, `SELECT count(*) FROM inbox`); err != nil || stored != 0 {
		t.Errorf("inbox rows = %d (%v), want 0: the smuggled webhook must not be served", stored, err)
	}
}

// postTo sends a new, correctly signed Stripe event to source over the network.
func (e *guardEnv) postTo(base, source string) reply {
	e.t.Helper()
	req, err := stripe.Provider{}.Sample(domain.Source{ID: source, Secrets: []string{secret}}, "payment_intent.succeeded",
		webhook.SampleOptions{EventID: fmt.Sprintf("evt_net_%d", e.seq.Add(1)), OrderRef: "9001", Now: e.clock.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	hr, err := http.NewRequest(http.MethodPost, base+"/webhooks/"+source, bytes.NewReader(req.Body))
	if err != nil {
		e.t.Fatal(err)
	}
	hr.Header = req.Header
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	return reply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), code: errorCode(e.t, resp)}
}

// TestRejectionOfAnUnstorableSourceIsRecorded: a source id in the URL that is not
// valid UTF-8 is refused 404 and the rejection is still recorded.
func TestRejectionOfAnUnstorableSourceIsRecorded(t *testing.T) {
	t.Parallel()
	e := newGuardEnvWith(t, map[string]domain.Source{}, func(*httpapi.Params) {})
	addr := e.serve()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "POST /webhooks/ab\xff\xfe HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\n{}")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown source with invalid UTF-8: %d, want 404", resp.StatusCode)
	}
	if n := e.rejections(domain.CauseUnknownSource); n != 1 {
		t.Errorf("unknown_source rejections = %d, want 1", n)
	}
}
