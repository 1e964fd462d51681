package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// listen binds addr and explains the failures a person can fix.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return ln, nil
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("listen %s: address already in use — another process is using it; set TRADEWIND_LISTEN to another address", addr)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("listen %s: permission denied — ports below 1024 need privileges; set TRADEWIND_LISTEN to a port above 1023", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, fmt.Errorf("listen %s: the address is not one of this machine's; set TRADEWIND_LISTEN to one of its addresses, e.g. 127.0.0.1:8080 or :8080", addr)
	default:
		return nil, fmt.Errorf("TRADEWIND_LISTEN: %w", err)
	}
}

// fdReserve is how many descriptors the connection cap leaves, beyond the
// database pool, for Redis connections, outbound calls, files and the runtime.
const fdReserve = 128

// connectionCap is the global connection cap: TRADEWIND_MAX_CONNECTIONS when set,
// otherwise the open-file limit less the database pool and fdReserve, and at
// least a quarter of the limit. With the cap below the limit, a flood of idle
// connections is refused early (503) instead of exhausting descriptors; accept
// still survives exhaustion from other causes (see httpapi.Listener).
func connectionCap(cfg Config) int {
	if cfg.MaxConnections > 0 {
		return cfg.MaxConnections
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 { // RLIM_INFINITY or near it
		return 0 // no limit known: no cap
	}
	n := int(lim.Cur)
	return max(n-cfg.DBMaxConns-fdReserve, n/4)
}
