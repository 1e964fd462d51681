package httpapi_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/adapters/httpapi"
	"github.com/tradewind/tradewind/internal/ratelog"
	"github.com/tradewind/tradewind/internal/testenv"
)

// failingListener returns errs from Accept, one per call, then what the real
// listener accepts.
type failingListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (f *failingListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Unlock()
	return f.Listener.Accept()
}

func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// syncBuffer is a log destination that tests read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestFiberKeepsServingAfterAcceptErrors: Fiber (fasthttp) stops serving for good
// on an accept error that is not a timeout, such as EMFILE when descriptors run
// out. Behind the Listener, the errors are retried and the server still answers.
func TestFiberKeepsServingAfterAcceptErrors(t *testing.T) {
	tests := []struct {
		name  string
		errno syscall.Errno
	}{
		{"out of descriptors (process)", syscall.EMFILE},
		{"out of descriptors (system)", syscall.ENFILE},
		{"connection aborted", syscall.ECONNABORTED},
		{"out of buffers", syscall.ENOBUFS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			real := loopbackListener(t)
			fake := &failingListener{Listener: real}
			for range 5 {
				fake.errs = append(fake.errs, acceptErr(tt.errno))
			}
			var logs syncBuffer
			now := time.Now()
			ln := httpapi.NewListener(fake, httpapi.ListenerParams{
				Log: ratelog.New(slog.New(slog.NewJSONHandler(&logs, nil)), 10*time.Second, func() time.Time { return now }),
			})
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			app.Get("/", func(c *fiber.Ctx) error { return c.SendString("served") })
			served := make(chan error, 1)
			go func() { served <- app.Listener(ln) }()
			t.Cleanup(func() { _ = app.Shutdown(); <-served })

			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + real.Addr().String() + "/")
			if err != nil {
				t.Fatalf("GET after %d accept errors: %v", 5, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "served" {
				t.Fatalf("GET = %d %q, want 200 \"served\"", resp.StatusCode, body)
			}
			lines := strings.Count(logs.String(), "could not accept a connection")
			if lines != 1 {
				t.Errorf("%d log lines for 5 accept errors in one burst, want 1:\n%s", lines, logs.String())
			}
			if !strings.Contains(logs.String(), tt.errno.Error()) {
				t.Errorf("the log does not name the error %q:\n%s", tt.errno.Error(), logs.String())
			}
		})
	}
}

func TestListenerReturnsPermanentErrors(t *testing.T) {
	boom := errors.New("listener broken")
	ln := httpapi.NewListener(&failingListener{Listener: loopbackListener(t), errs: []error{boom}}, httpapi.ListenerParams{})
	if _, err := ln.Accept(); !errors.Is(err, boom) {
		t.Fatalf("Accept = %v, want %v", err, boom)
	}
}

// TestListenerCloseEndsTheBackoff: Close during a run of EMFILE ends Accept with
// net.ErrClosed, which Fiber takes as a clean stop.
func TestListenerCloseEndsTheBackoff(t *testing.T) {
	fake := &failingListener{Listener: loopbackListener(t)}
	for range 1000 {
		fake.errs = append(fake.errs, acceptErr(syscall.EMFILE))
	}
	ln := httpapi.NewListener(fake, httpapi.ListenerParams{})
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		accepted <- err
	}()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return len(fake.errs) < 1000, "Accept to meet the first EMFILE"
	})
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still waiting 10 s after Close")
	}
	if err := ln.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// dialFrom opens a connection to addr from the loopback address from (the whole
// 127/8 is this machine).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refusedWith503 sends a request on c and reports whether the answer is 503
// naming setting, followed by the end of the connection.
func refusedWith503(t *testing.T, c net.Conn, setting string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the refusal: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), setting) || !strings.Contains(string(body), `"code":"unavailable"`) {
		t.Errorf("refusal = %d %s, want 503 in the error shape naming %s", resp.StatusCode, body, setting)
	}
}

func TestListenerCapsConnections(t *testing.T) {
	tests := []struct {
		name        string
		params      httpapi.ListenerParams
		held        []string // client addresses of connections held open
		refusedFrom string   // the next one, refused
		setting     string   // named in the refusal
		admitted    string   // a client still admitted
	}{
		{
			name:        "global cap",
			params:      httpapi.ListenerParams{MaxConns: 2},
			held:        []string{"127.0.0.1", "127.0.0.2"},
			refusedFrom: "127.0.0.3", setting: "TRADEWIND_MAX_CONNECTIONS",
		},
		{
			name:        "per-IP cap",
			params:      httpapi.ListenerParams{MaxConns: 10, MaxConnsPerIP: 2},
			held:        []string{"127.0.0.1", "127.0.0.1"},
			refusedFrom: "127.0.0.1", setting: "TRADEWIND_MAX_CONNECTIONS_PER_IP",
			admitted: "127.0.0.2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ln := httpapi.NewListener(loopbackListener(t), tt.params)
			conns := make(chan net.Conn, 10)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					conns <- c
				}
			}()
			addr := ln.Addr().String()
			var server []net.Conn
			for _, from := range tt.held {
				dialFrom(t, from, addr)
				server = append(server, <-conns)
			}
			refusedWith503(t, dialFrom(t, tt.refusedFrom, addr), tt.setting)
			if tt.admitted != "" {
				dialFrom(t, tt.admitted, addr)
				server = append(server, <-conns)
			}
			if got, want := ln.Open(), len(server); got != want {
				t.Errorf("open = %d, want %d", got, want)
			}

			// Closing a held connection gives its place back, once.
			server[0].Close()
			server[0].Close()
			dialFrom(t, tt.refusedFrom, addr)
			select {
			case c := <-conns:
				c.Close()
			case <-time.After(10 * time.Second):
				t.Fatal("no connection admitted after one was closed")
			}
			ln.Close()
		})
	}
}
