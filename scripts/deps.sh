#!/usr/bin/env bash
# Local PostgreSQL and Redis for development and tests, on loopback ports of their
# own, with data under .tradewind/ in the checkout. No Docker, no systemd.
#
#   scripts/deps.sh start   start both (initdb and install redis-server on first use); idempotent
#   scripts/deps.sh stop    stop both
#   scripts/deps.sh env     print the TRADEWIND_* URLs as shell exports
#   scripts/deps.sh status  say what is running
#   scripts/deps.sh chromium install Debian's chromium for the browser test if it is missing (start does it too)
#
# Ports: TRADEWIND_PG_PORT (55432), TRADEWIND_REDIS_PORT (56379). Data folder: TRADEWIND_DATA_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_PORT=${TRADEWIND_PG_PORT:-55432}
REDIS_PORT=${TRADEWIND_REDIS_PORT:-56379}
DATA=${TRADEWIND_DATA_DIR:-$ROOT/.tradewind}

say() { printf 'deps: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

pg_bindir() {
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return; }
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
  die "PostgreSQL server binaries (initdb, pg_ctl) not found; install them (Debian: apt-get install -y postgresql) or set TRADEWIND_DATABASE_URL"
}

# PostgreSQL refuses to run as root: as root, run it as the postgres user.
PG_OS_USER=""
as_pg() {
  if [ -n "$PG_OS_USER" ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

setup_pg_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id postgres >/dev/null 2>&1; then
    say "creating system user postgres to own the local database"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  fi
  PG_OS_USER=postgres
  # The data folder must be reachable by that user; a checkout under /root is not.
  mkdir -p "$DATA"
  if ! runuser -u postgres -- test -x "$DATA" 2>/dev/null; then
    local alt="/var/lib/tradewind/$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
    say "$DATA is not reachable by the postgres user; keeping PostgreSQL data in $alt"
    PGDATA_DIR="$alt/pg"
  fi
}

PGDATA_DIR="$DATA/pg"

pg_running() { [ -f "$PGDATA_DIR/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

start_pg() {
  BIN=$(pg_bindir)
  setup_pg_user
  mkdir -p "$PGDATA_DIR"
  [ -n "$PG_OS_USER" ] && chown "$PG_OS_USER" "$PGDATA_DIR" && chmod 700 "$PGDATA_DIR"
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    say "initdb into $PGDATA_DIR"
    as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$DATA/initdb.log" 2>&1 \
      || { cat "$DATA/initdb.log" >&2; die "initdb failed"; }
    cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
# tradewind local development settings
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDATA_DIR'
max_connections = 400
shared_buffers = 256MB
CONF
  fi
  if pg_running; then
    say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 60 start >/dev/null \
      || { tail -n 20 "$PGDATA_DIR/server.log" >&2; die "PostgreSQL did not start (log above)"; }
  fi
  if ! as_pg "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'tradewind'" | grep -q 1; then
    as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres tradewind
  fi
}

stop_pg() {
  BIN=$(pg_bindir)
  setup_pg_user
  if pg_running; then
    say "stopping PostgreSQL"
    as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
  fi
}

redis_running() { [ -f "$DATA/redis.pid" ] && kill -0 "$(cat "$DATA/redis.pid")" 2>/dev/null; }

start_redis() {
  if ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      say "installing redis-server with apt-get"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq redis-server >/dev/null
    else
      die "redis-server is not installed; install it (Debian: sudo apt-get install -y redis-server) or set TRADEWIND_REDIS_URL"
    fi
  fi
  mkdir -p "$DATA/redis"
  if redis_running; then
    say "Redis already running on 127.0.0.1:$REDIS_PORT"
    return
  fi
  say "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$DATA/redis.pid" \
    --dir "$DATA/redis" --logfile "$DATA/redis.log" --appendonly yes --save "" >/dev/null
  for _ in $(seq 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return
    sleep 0.1
  done
  tail -n 20 "$DATA/redis.log" >&2
  die "Redis did not start (log above)"
}

stop_redis() {
  if redis_running; then
    say "stopping Redis"
    local pid
    pid=$(cat "$DATA/redis.pid")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}

# The dashboard's browser test (cmd/tradewind TestBrowser…) drives headless
# Chromium. Installed from Debian when missing and we are root; otherwise say so:
# the test then skips, except in CI, where it fails.
install_chromium() {
  if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "chromium not found and not root with apt-get: skipping its install (the browser test skips outside CI); install it with: sudo apt-get install -y chromium"
    return
  fi
  say "installing chromium for the browser test (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 ||
    say "could not install chromium; the browser test skips outside CI"
}

print_env() {
  echo "export TRADEWIND_DATABASE_URL='postgres://postgres@127.0.0.1:$PG_PORT/tradewind?sslmode=disable'"
  echo "export TRADEWIND_REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'"
  echo "export TRADEWIND_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable'"
}

case "${1:-}" in
  start) start_pg; start_redis; install_chromium ;;
  chromium) install_chromium ;;
  stop) stop_redis; stop_pg ;;
  env) print_env ;;
  status)
    BIN=$(pg_bindir); setup_pg_user
    pg_running && echo "postgres: running on 127.0.0.1:$PG_PORT" || echo "postgres: stopped"
    redis_running && echo "redis: running on 127.0.0.1:$REDIS_PORT" || echo "redis: stopped" ;;
  *) echo "usage: $0 start|stop|env|status|chromium" >&2; exit 2 ;;
esac
