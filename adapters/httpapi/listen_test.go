package httpapi_test

import (
	"syscall"
	"testing"

	"github.com/tradewind/tradewind/adapters/httpapi"
)

func TestConnectionCapFollowsTheOpenFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if got := httpapi.ConnectionCap(7, 40); got != 7 {
		t.Errorf("cap with TRADEWIND_MAX_CONNECTIONS=7 = %d, want 7", got)
	}
	got := httpapi.ConnectionCap(0, 40)
	if lim.Cur > 1<<30 {
		if got != 0 {
			t.Errorf("cap with no open-file limit = %d, want 0 (none)", got)
		}
		return
	}
	if want := max(int(lim.Cur)-40-httpapi.FDReserve, int(lim.Cur)/4); got != want {
		t.Errorf("cap with an open-file limit of %d = %d, want %d", lim.Cur, got, want)
	}
}
