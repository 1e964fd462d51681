package webhookdest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	swlib "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/adapters/webhookdest"
)

// During a rotation every secret signs: a receiver holding either the new or the
// old secret accepts the message (checked with the official library).
func TestSeveralSecretsSignSpaceSeparated(t *testing.T) {
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_b2xkIHNlY3JldCBzdGlsbCBpbiB1c2U="}
	var keys [][]byte
	for _, s := range secrets {
		k, err := stdwebhooks.DecodeSecret(s)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	body := []byte(`{"type":"order.paid","timestamp":"2026-12-01T00:00:00Z","data":{}}`)
	h := http.Header{}
	webhookdest.SetHeaders(h, keys, "msg_1", time.Now().Unix(), body)
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 2 {
		t.Fatalf("webhook-signature %q: %d signatures, want 2", h.Get("webhook-signature"), n)
	}
	for _, s := range secrets {
		wh, err := swlib.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("a receiver holding %.10s…: %v", s, err)
		}
	}
}

func TestResultClassifiesAnswers(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		code       int
		retryAfter string
		wantErr    bool
		wantGone   bool
		wantWait   time.Duration
	}{
		{"2xx delivered", 204, "", false, false, 0},
		{"500 fails", 500, "", true, false, 0},
		{"410 gone", 410, "", true, true, 0},
		{"429 seconds", 429, "7", true, false, 7 * time.Second},
		{"503 date", 503, now.Add(time.Minute).Format(http.TimeFormat), true, false, time.Minute},
		{"429 unreadable", 429, "soon", true, false, 0},
		{"500 ignores Retry-After", 500, "7", true, false, 0},
		{"redirect fails", 302, "", true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := webhookdest.Result(tt.code, tt.retryAfter, []byte("body\x00with a NUL"), 0, now)
			if (res.Err != nil) != tt.wantErr || res.Gone != tt.wantGone || res.RetryAfter != tt.wantWait {
				t.Errorf("Result(%d, %q) = %+v; want err %v, gone %v, wait %s", tt.code, tt.retryAfter, res, tt.wantErr, tt.wantGone, tt.wantWait)
			}
			if res.Err != nil && strings.ContainsRune(res.Err.Error(), 0) {
				t.Errorf("error keeps a NUL byte: %q", res.Err)
			}
		})
	}
}
