package testenv

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Postgres is a private PostgreSQL cluster on a loopback port, initdb'ed into a
// temporary directory for one test, which the test may restart or crash: what the
// shared cluster of TRADEWIND_TEST_DATABASE_URL cannot do. As root it runs as the
// postgres OS user (PostgreSQL refuses to run as root), as scripts/deps.sh does.
type Postgres struct {
	Port   int
	bin    string // the server binaries' directory (initdb, pg_ctl)
	dir    string // owned by the OS user the server runs as
	data   string // the data directory, inside dir
	osUser string // "" (ourselves) or "postgres" when we are root
	mu     sync.Mutex
}

// StartPostgres initdb's a cluster into a temporary directory, starts it and
// returns it; it is stopped and removed when the test ends. The test is skipped
// when the PostgreSQL server binaries are not installed.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := pgBindir()
	if err != nil {
		t.Skip(err.Error())
	}
	p := &Postgres{bin: bin, Port: FreePort(t)}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			t.Fatal("running as root, and PostgreSQL refuses to: a private cluster runs as the OS user postgres, which does not exist " +
				"(create it with `useradd --system postgres`; scripts/deps.sh does)")
		}
		p.osUser = "postgres"
	}
	// Not t.TempDir(): its parents are 0700 root's, out of the postgres user's reach.
	p.dir, err = os.MkdirTemp("", "tradewind-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(p.dir) })
	if p.osUser != "" {
		if out, err := exec.Command("chown", p.osUser, p.dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s %s: %v\n%s", p.osUser, p.dir, err, out)
		}
	}
	p.data = filepath.Join(p.dir, "data")
	if out, err := p.run("initdb", "-D", p.data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"); err != nil {
		t.Fatalf("initdb into %s (as %q; the directory and its parents must be reachable by that user, see TMPDIR): %v\n%s",
			p.data, p.osUser, err, out)
	}
	conf := fmt.Sprintf("\n# a private cluster of one test (testenv.StartPostgres)\n"+
		"listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"+
		"max_connections = 200\nshared_buffers = 32MB\nlogging_collector = off\n", p.Port, p.data)
	f, err := os.OpenFile(filepath.Join(p.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if err := p.ctl("start"); err != nil {
		t.Fatal(err)
	}
	return p
}

// URL is the postgres:// URL of the cluster's postgres database, as its superuser.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
}

// Restart stops the server in mode ("fast": clients are disconnected, a checkpoint is
// written; "immediate": the server processes quit at once, as in a crash, and the
// start that follows recovers from the WAL) and starts it again, waiting until it
// answers a query. It returns how long the server did not answer, or an error
// rather than failing the test, so that a fault beside a load (another goroutine) may call it.
func (p *Postgres) Restart(mode string) (time.Duration, error) {
	if mode != "fast" && mode != "immediate" && mode != "smart" {
		return 0, fmt.Errorf("testenv: pg_ctl has no shutdown mode %q (smart, fast or immediate)", mode)
	}
	began := time.Now()
	err := p.ctl("restart", "-m", mode)
	return time.Since(began), err
}

// Stop stops the server (fast mode); a stopped server is left alone.
func (p *Postgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := os.Stat(filepath.Join(p.data, "postmaster.pid")); err != nil {
		return
	}
	_, _ = p.run("pg_ctl", "-D", p.data, "-m", "fast", "-w", "-t", "60", "stop")
}

// ServerLog is the tail of the server's log, for failure messages.
func (p *Postgres) ServerLog(n int) string {
	b, _ := os.ReadFile(p.logFile())
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (p *Postgres) logFile() string { return filepath.Join(p.dir, "server.log") }

// ctl runs pg_ctl action (start or restart), waiting for the server, and then
// until it answers a query.
func (p *Postgres) ctl(action string, args ...string) error {
	p.mu.Lock()
	out, err := p.run("pg_ctl", append([]string{"-D", p.data, "-l", p.logFile(), "-w", "-t", "120", action}, args...)...)
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pg_ctl %s %s: %v\n%s\nserver log (tail):\n%s", action, strings.Join(args, " "), err, out, p.ServerLog(30))
	}
	db, err := sql.Open("postgres", p.URL())
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := db.Ping()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the private PostgreSQL on port %d does not answer 60 s after pg_ctl %s: %v\nserver log (tail):\n%s",
				p.Port, action, err, p.ServerLog(30))
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

// run runs one of the server binaries, as the postgres OS user when we are root.
func (p *Postgres) run(name string, args ...string) ([]byte, error) {
	argv := append([]string{filepath.Join(p.bin, name)}, args...)
	if p.osUser != "" {
		argv = append([]string{"runuser", "-u", p.osUser, "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.dir // the user's working directory must be readable to it
	return cmd.CombinedOutput()
}

// pgBindir finds the directory of initdb and pg_ctl as scripts/deps.sh does:
// pg_config's, else the newest /usr/lib/postgresql/*/bin, else initdb on PATH.
func pgBindir() (string, error) {
	usable := func(d string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); usable(d) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if usable(d) {
			return d, nil
		}
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(path); err == nil && usable(filepath.Dir(resolved)) {
			return filepath.Dir(resolved), nil
		}
		if usable(filepath.Dir(path)) {
			return filepath.Dir(path), nil
		}
	}
	return "", fmt.Errorf("the PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed, " +
		"so a private cluster cannot be started: install them (Debian: apt-get install -y postgresql)")
}

func pgMajor(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}
