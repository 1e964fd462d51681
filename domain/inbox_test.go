package domain_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tradewind/tradewind/domain"
)

func TestInboxEntryValidate(t *testing.T) {
	ok := domain.InboxEntry{Source: "acme", Provider: "powertranz", EventID: "txn_1:abcd", EventType: "callback",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte("body may hold \x00 and \xff: it is bytea")}
	with := func(f func(e *domain.InboxEntry)) domain.InboxEntry {
		e := ok
		e.Header = ok.Header.Clone()
		f(&e)
		return e
	}
	tests := []struct {
		name  string
		entry domain.InboxEntry
		want  string // a part of the message; "" means valid
	}{
		{"valid", ok, ""},
		{"event id of 255 bytes", with(func(e *domain.InboxEntry) { e.EventID = strings.Repeat("a", 255) }), ""},
		{"event id over 255 bytes", with(func(e *domain.InboxEntry) { e.EventID = strings.Repeat("a", 3000) }), "event id is 3000 bytes, over the 255-byte limit"},
		{"NUL in the event id", with(func(e *domain.InboxEntry) { e.EventID = "txn\x00" }), "event id contains a NUL byte"},
		{"invalid UTF-8 in the event id", with(func(e *domain.InboxEntry) { e.EventID = "txn\xff" }), "event id is not valid UTF-8"},
		{"empty event id", with(func(e *domain.InboxEntry) { e.EventID = "" }), "no event id"},
		{"NUL in the event type", with(func(e *domain.InboxEntry) { e.EventType = "orders/paid\x00" }), "event type contains a NUL byte"},
		{"event type over 255 bytes", with(func(e *domain.InboxEntry) { e.EventType = strings.Repeat("t", 256) }), "event type is 256 bytes"},
		{"NUL in a header value", with(func(e *domain.InboxEntry) { e.Header.Set("X-Wc-Webhook-Id", "1\x00") }), `header "X-Wc-Webhook-Id" contains a NUL byte`},
		{"NUL in a header name", with(func(e *domain.InboxEntry) { e.Header["X-\x00"] = []string{"v"} }), "header name contains a NUL byte"},
		{"invalid UTF-8 in a header value (stored as U+FFFD)", with(func(e *domain.InboxEntry) { e.Header.Set("X-A", "\xff") }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.entry.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if domain.ErrorCode(err) != domain.EINVALID || domain.ErrorReason(err) != domain.CauseUnstorable {
				t.Fatalf("Validate() = %v, want EINVALID with reason unstorable", err)
			}
			if msg := domain.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
		})
	}
}
