package testenv

import (
	"database/sql"
	"strings"
	"testing"
)

// TestPostgresRestart: a private cluster survives a fast restart and a crash
// (immediate shutdown) with every committed row, and a connection opened before
// either is told so and replaced.
func TestPostgresRestart(t *testing.T) {
	pg := StartPostgres(t)
	db, err := sql.Open("postgres", pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE kept (n int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for i, mode := range []string{"fast", "immediate"} {
		if _, err := db.Exec(`INSERT INTO kept VALUES ($1)`, i); err != nil {
			t.Fatalf("insert before the %s restart: %v", mode, err)
		}
		if _, err := pg.Restart(mode); err != nil {
			t.Fatal(err)
		}
		db.SetMaxIdleConns(0) // connections from before the restart are gone
		db.SetMaxIdleConns(2)
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM kept`).Scan(&n); err != nil {
			t.Fatalf("after the %s restart: %v", mode, err)
		}
		if n != i+1 {
			t.Errorf("after the %s restart %d rows, want %d", mode, n, i+1)
		}
	}
	if log := pg.ServerLog(200); !strings.Contains(log, "not properly shut down") {
		t.Errorf("the immediate restart did not make PostgreSQL recover (no \"not properly shut down\" in its log):\n%s", log)
	}
	if _, err := pg.Restart("sudden"); err == nil {
		t.Error("Restart(\"sudden\") = nil error, want one naming pg_ctl's modes")
	}
}
