#!/usr/bin/env bash
# `make run`: start local PostgreSQL and Redis unless TRADEWIND_DATABASE_URL and
# TRADEWIND_REDIS_URL are set, build tradewind, and run `tradewind all` with the
# sample sources. Ctrl-C stops tradewind gracefully, then the databases it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TRADEWIND_DATABASE_URL:-}" ] || [ -z "${TRADEWIND_REDIS_URL:-}" ]; then
  was_running=$(scripts/deps.sh status | grep -c running || true)
  scripts/deps.sh start
  [ "$was_running" = 2 ] || trap 'scripts/deps.sh stop' EXIT
  eval "$(scripts/deps.sh env)"
fi
export TRADEWIND_SOURCES_FILE=${TRADEWIND_SOURCES_FILE:-examples/sources.yaml}
export TRADEWIND_API_TOKEN=${TRADEWIND_API_TOKEN:-dev-token-0123456789abcdef}
export TRADEWIND_LISTEN=${TRADEWIND_LISTEN:-127.0.0.1:8080}

version=$(git describe --always --dirty 2>/dev/null || echo dev)
if [ -x bin/tradewind ]; then
  echo "building bin/tradewind $version (only what changed: a few seconds)…" >&2
else
  echo "building bin/tradewind $version (first build takes about a minute: it compiles every dependency)…" >&2
fi
# go build -v names each package as it compiles it: shown as one rewritten line on
# a terminal, one line each otherwise. Compiler errors ("# pkg", "file.go:1:2: …")
# are printed in full.
progress() {
  local n=0 line
  while IFS= read -r line; do
    case $line in
      \#*|*.go:*|*error*|*cannot*) printf '\n%s\n' "$line" ;;
      *) n=$((n + 1))
         if [ -t 2 ]; then printf '\r  compiled %4d packages: %-60.60s' "$n" "$line"; else echo "  compiling $line"; fi ;;
    esac
  done
  [ -t 2 ] && printf '\r%-90s\r' '' || true
}
go build -v -ldflags "-X main.version=$version" -o bin/tradewind ./cmd/tradewind 2>&1 | progress >&2
echo "built bin/tradewind $version" >&2
cat >&2 <<MSG

  Tradewind on http://$TRADEWIND_LISTEN  (sources: $TRADEWIND_SOURCES_FILE, API token: $TRADEWIND_API_TOKEN)
  Try, in another terminal:
    bin/tradewind simulate stripe payment_intent.succeeded --order-ref 1001
    curl -s -H 'Authorization: Bearer $TRADEWIND_API_TOKEN' http://$TRADEWIND_LISTEN/api/v1/orders/1001
  Every provider has a demo source (examples/sources.yaml): bin/tradewind simulate shopify,
  simulate powertranz, simulate adyen --batch, … (bin/tradewind simulate --help lists them).
  Ctrl-C stops it.

MSG
bin/tradewind all
