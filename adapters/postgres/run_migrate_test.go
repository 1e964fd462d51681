package postgres_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tradewind/tradewind/adapters/postgres"
)

// TestRunMigrate: what `tradewind migrate up|down|status` prints, on a migrated database.
func TestRunMigrate(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	mg, err := postgres.Migrator(db)
	if err != nil {
		t.Fatal(err)
	}
	st, err := mg.Status(t.Context())
	if err != nil || len(st) == 0 {
		t.Fatalf("status = %v, %v", st, err)
	}
	newest := st[len(st)-1].Source.Path
	tests := []struct {
		name, action string
		want         string // a regular expression for the whole output
		wantErr      string
	}{
		{name: "status: all applied", action: "status", want: `^(\S+\.sql +applied \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n){` + strconv.Itoa(len(st)) + `}$`},
		{name: "up: nothing to do", action: "up", want: `^nothing to apply: the schema is up to date\n$`},
		{name: "down: the newest", action: "down", want: `^rolled back ` + regexp.QuoteMeta(newest) + `\n$`},
		{name: "status: the newest pending", action: "status", want: regexp.QuoteMeta(newest) + ` +pending\n$`},
		{name: "up: the newest again", action: "up", want: `^applied ` + regexp.QuoteMeta(newest) + ` \(\d+(\.\d+)?m?s\)\n$`},
		{name: "unknown", action: "sideways", want: `^$`, wantErr: `migrate "sideways": want up, down or status`},
	}
	for _, tt := range tests { // in order: each step starts where the one before left the schema
		var out strings.Builder
		err := postgres.RunMigrate(t.Context(), db, tt.action, &out)
		if (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr)) {
			t.Fatalf("%s: error = %v, want %q", tt.name, err, tt.wantErr)
		}
		if !regexp.MustCompile(tt.want).MatchString(out.String()) {
			t.Errorf("%s: printed\n%s\nwant it to match %s", tt.name, out.String(), tt.want)
		}
	}
}
