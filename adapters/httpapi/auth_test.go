package httpapi

import (
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestGuessLimiter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	g := newGuessLimiter(6*time.Second, 3, 100)
	for i := range 3 {
		if ok, _ := g.check("a", false, now); !ok {
			t.Fatalf("wrong guess %d refused within the burst", i+1)
		}
	}
	ok, wait := g.check("a", false, now)
	if ok || wait != 6*time.Second {
		t.Errorf("fourth wrong guess = %v, wait %v; want refused for 6s", ok, wait)
	}
	if ok, _ := g.check("a", true, now); ok {
		t.Error("the right token from a refused key was let through: refusals would reveal right guesses")
	}
	if ok, _ := g.check("b", true, now); !ok {
		t.Error("the right token from another key was refused")
	}
	if ok, _ := g.check("a", false, now.Add(6*time.Second)); !ok {
		t.Error("a wrong guess after the refill was refused")
	}
	for range 1000 {
		g.check("ok", true, now) // right tokens spend nothing and store nothing
	}
	if _, found := g.keys.byKey["ok"]; found {
		t.Error("a key with only right tokens was stored")
	}

	t.Run("memory is bounded", func(t *testing.T) {
		g := newGuessLimiter(time.Minute, 1, 50)
		for i := range 10_000 {
			g.check(fmt.Sprintf("10.0.%d.%d", i/256, i%256), false, now)
		}
		if g.keys.lru.Len() != 50 || len(g.keys.byKey) != 50 {
			t.Errorf("remembers %d keys (%d in the map), want at most 50", g.keys.lru.Len(), len(g.keys.byKey))
		}
		last := fmt.Sprintf("10.0.%d.%d", 9999/256, 9999%256)
		if ok, _ := g.check(last, false, now); ok {
			t.Error("the most recent guesser was forgotten")
		}
	})
}

func TestClientAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies(" 0.0.0.0 , 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseTrustedProxies("10.0.0.1,proxy.internal"); err == nil {
		t.Error("a host name was accepted as a trusted proxy")
	}
	tests := []struct {
		name    string
		trusted bool
		xff     []string
		want    string
	}{
		{"no proxy trusted: the header is the client's own word", false, []string{"203.0.113.9"}, "0.0.0.0"},
		{"trusted peer, no header", true, nil, "0.0.0.0"},
		{"one proxy", true, []string{"203.0.113.9"}, "203.0.113.9"},
		{"spoofed left entries are skipped", true, []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"a chain of trusted proxies", true, []string{"198.51.100.4, 10.1.2.3, 10.0.0.7"}, "198.51.100.4"},
		{"several header lines", true, []string{"1.1.1.1", "203.0.113.9, 10.0.0.7"}, "203.0.113.9"},
		{"garbage stops at the last trusted hop", true, []string{"203.0.113.9, nonsense, 10.0.0.7"}, "10.0.0.7"},
		{"IPv6 clients are their /64", true, []string{"2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2::/64"},
		{"a port is ignored", true, []string{"[2001:db8::1]:443"}, "2001:db8::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := clientAddrs{header: fiber.HeaderXForwardedFor}
			if tt.trusted {
				a.trusted = trusted
			}
			app := fiber.New()
			app.Get("/", func(c *fiber.Ctx) error { return c.SendString(a.key(c)) })
			req := httptest.NewRequest("GET", "/", nil)
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != tt.want {
				t.Errorf("client = %q, want %q", b, tt.want)
			}
		})
	}
}
