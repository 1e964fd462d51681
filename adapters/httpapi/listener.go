package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tradewind/tradewind/internal/ratelog"
)

// Accept backoff: a failed accept that may succeed later (out of descriptors,
// out of buffers, a connection aborted before it was taken) is retried after a
// pause that starts at minAcceptBackoff and doubles up to maxAcceptBackoff.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// ListenerParams are a Listener's limits.
type ListenerParams struct {
	// MaxConns is how many connections may be open at once, all clients
	// together; 0 is no limit. Past it a new connection is answered 503 and closed.
	MaxConns int
	// MaxConnsPerIP is how many connections one client IP may hold open; 0 is no
	// limit. Behind a load balancer every connection comes from its address.
	MaxConnsPerIP int
	// Log writes the accept failures and refusals, at most one line per kind a while.
	Log *ratelog.Logger
}

// Listener is a net.Listener that survives running out of file descriptors and
// caps open connections.
//
// Fiber (fasthttp) stops serving for good on any accept error but a timeout, and
// EMFILE is not a timeout: without this wrapper, idle connections up to the
// descriptor limit end the server. Accept here retries every error that can pass
// (EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED, …) with backoff, and returns
// only when the listener is closed or broken. A connection past a cap is
// answered 503 and closed at once, so it holds a descriptor for microseconds.
type Listener struct {
	net.Listener
	p ListenerParams

	mu    sync.Mutex
	open  int
	perIP map[netip.Addr]int

	lingering atomic.Int32 // refused connections still draining

	closeOnce sync.Once
	closed    chan struct{}
}

// NewListener wraps ln.
func NewListener(ln net.Listener, p ListenerParams) *Listener {
	if p.Log == nil {
		p.Log = ratelog.New(slog.New(slog.DiscardHandler), time.Minute, nil)
	}
	return &Listener{Listener: ln, p: p, perIP: map[netip.Addr]int{}, closed: make(chan struct{})}
}

// Accept waits for the next connection within the caps.
func (l *Listener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return nil, net.ErrClosed
			default:
			}
			if !retryableAcceptError(err) {
				return nil, err
			}
			backoff = min(max(2*backoff, minAcceptBackoff), maxAcceptBackoff)
			l.p.Log.Warn(context.Background(), "accept", "could not accept a connection; retrying (out of file descriptors? raise the open-file limit or lower TRADEWIND_MAX_CONNECTIONS)",
				slog.String("error", err.Error()), slog.Duration("retry_in", backoff))
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		backoff = 0
		if tc, ok := l.admit(c); ok {
			return tc, nil
		}
	}
}

// Open is the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Close stops Accept. It is safe to call more than once.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.closed)
		err = l.Listener.Close()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// admit counts c in, or answers 503 and closes it when a cap is reached.
func (l *Listener) admit(c net.Conn) (net.Conn, bool) {
	ip := remoteIP(c)
	l.mu.Lock()
	var refused, kind string
	switch {
	case l.p.MaxConns > 0 && l.open >= l.p.MaxConns:
		kind = "conn-limit"
		refused = fmt.Sprintf("the server holds its maximum of %d connections (TRADEWIND_MAX_CONNECTIONS); retry later", l.p.MaxConns)
	case l.p.MaxConnsPerIP > 0 && ip.IsValid() && l.perIP[ip] >= l.p.MaxConnsPerIP:
		kind = "conn-limit-ip"
		refused = fmt.Sprintf("this address holds its maximum of %d connections (TRADEWIND_MAX_CONNECTIONS_PER_IP); close some or retry later", l.p.MaxConnsPerIP)
	default:
		l.open++
		if ip.IsValid() {
			l.perIP[ip]++
		}
	}
	l.mu.Unlock()
	if refused == "" {
		return &trackedConn{Conn: c, l: l, ip: ip}, true
	}
	l.p.Log.Warn(context.Background(), kind, "connection refused: over the connection limit",
		slog.String("remote_ip", ip.String()), slog.String("reason", refused))
	l.refuse(c, refused)
	return nil, false
}

func (l *Listener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if !ip.IsValid() {
		return
	}
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// Refused connections linger (read and discard what the client sends, then
// close) so that the client reads the 503 instead of a reset: closing a socket
// with unread input resets it, and the reset can overtake the answer. At most
// maxLingering do at once, each for at most lingerFor; past that, they close at once.
const (
	maxLingering = 64
	lingerFor    = 500 * time.Millisecond
)

// refuse answers 503 in the API's error shape and closes c. The write goes into
// an empty socket buffer, so it does not wait; the deadline is a guard.
func (l *Listener) refuse(c net.Conn, message string) {
	body := fmt.Sprintf(`{"error":{"code":"unavailable","message":%q}}`, message)
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if l.lingering.Add(1) > maxLingering {
		l.lingering.Add(-1)
		_ = c.Close()
		return
	}
	go func() {
		defer l.lingering.Add(-1)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite() // the client sees the end of the answer
		}
		_ = c.SetReadDeadline(time.Now().Add(lingerFor))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
		_ = c.Close()
	}()
}

// trackedConn gives its place back when closed.
type trackedConn struct {
	net.Conn
	l    *Listener
	ip   netip.Addr
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// retryableAcceptError reports whether an accept error can pass: resources that
// free up (descriptors, buffers, memory) or one connection's own failure.
func retryableAcceptError(err error) bool {
	for _, errno := range []syscall.Errno{
		syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EPROTO, syscall.EPERM, syscall.EINTR, syscall.EAGAIN,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
