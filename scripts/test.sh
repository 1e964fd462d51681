#!/usr/bin/env bash
# `make test`: start the local PostgreSQL and Redis (tests make their own
# databases and Redis servers from them), then run the whole suite with the race
# detector. Databases this script started are stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TRADEWIND_TEST_DATABASE_URL:-}" ]; then
  was_running=$(scripts/deps.sh status | grep -c running || true)
  scripts/deps.sh start
  [ "$was_running" = 2 ] || trap 'scripts/deps.sh stop' EXIT
  eval "$(scripts/deps.sh env)"
else
  scripts/deps.sh chromium # the browser test's; start does it otherwise
fi
export TRADEWIND_TEST_DATABASE_URL
go vet ./...
go test -race -timeout 15m "$@" ./...
