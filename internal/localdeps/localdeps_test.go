package localdeps_test

import (
	"testing"

	"github.com/tradewind/tradewind/internal/localdeps"
)

// Every subcommand reads its environment through Env, which falls back to
// scripts/deps.sh's servers (so `replay` and `migrate` find `make run`'s
// databases from a second terminal, as `simulate` and `bench` do).
func TestLocalDepsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		key      string
		want     string
		wantNote bool
	}{
		{"set wins", map[string]string{"TRADEWIND_DATABASE_URL": "postgres://db/x"}, "TRADEWIND_DATABASE_URL", "postgres://db/x", false},
		{"database default", nil, "TRADEWIND_DATABASE_URL", "postgres://postgres@127.0.0.1:55432/tradewind?sslmode=disable", true},
		{"redis default", nil, "TRADEWIND_REDIS_URL", "redis://127.0.0.1:56379/0", true},
		{"deps.sh port", map[string]string{"TRADEWIND_REDIS_PORT": "7000"}, "TRADEWIND_REDIS_URL", "redis://127.0.0.1:7000/0", true},
		{"others untouched", nil, "TRADEWIND_LISTEN", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noted := false
			lookup := localdeps.Env(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok },
				func(string, string) { noted = true })
			got, _ := lookup(tc.key)
			if got != tc.want || noted != tc.wantNote {
				t.Errorf("lookup(%s) = %q (noted %v), want %q (noted %v)", tc.key, got, noted, tc.want, tc.wantNote)
			}
		})
	}
}
