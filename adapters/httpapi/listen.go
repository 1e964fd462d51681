package httpapi

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Listen binds addr and explains the failures a person can fix; setting names
// the configuration that gives addr (TRADEWIND_LISTEN).
func Listen(addr, setting string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return ln, nil
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("listen %s: address already in use — another process is using it; set %s to another address", addr, setting)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("listen %s: permission denied — ports below 1024 need privileges; set %s to a port above 1023", addr, setting)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, fmt.Errorf("listen %s: the address is not one of this machine's; set %s to one of its addresses, e.g. 127.0.0.1:8080 or :8080", addr, setting)
	default:
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
}

// FDReserve is how many descriptors the connection cap leaves, beyond the
// database pool, for Redis connections, outbound calls, files and the runtime.
const FDReserve = 128

// ConnectionCap is the global connection cap: maxConns (TRADEWIND_MAX_CONNECTIONS)
// when set, otherwise the open-file limit less the database pool (dbConns) and
// FDReserve, and at least a quarter of the limit. With the cap below the limit, a flood of idle
// connections is refused early (503) instead of exhausting descriptors; accept
// still survives exhaustion from other causes (see Listener).
func ConnectionCap(maxConns, dbConns int) int {
	if maxConns > 0 {
		return maxConns
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 { // RLIM_INFINITY or near it
		return 0 // no limit known: no cap
	}
	n := int(lim.Cur)
	return max(n-dbConns-FDReserve, n/4)
}
