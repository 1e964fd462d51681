#!/usr/bin/env bash
# The chaos suite at full size (internal/chaos): the real binary, real PostgreSQL and
# Redis, processes killed, Redis restarted or failed over through Sentinel, a Redis
# Cluster, PostgreSQL cut, restarted and crashed, descriptors exhausted, hostile senders,
# hanging CRMs; writes the results
# to docs/chaos.md. Uses the databases of
# scripts/deps.sh (started here unless TRADEWIND_TEST_DATABASE_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TRADEWIND_TEST_DATABASE_URL:-}" ]; then
  was_running=$(scripts/deps.sh status | grep -c running || true)
  scripts/deps.sh start
  [ "$was_running" = 2 ] || trap 'scripts/deps.sh stop' EXIT
  eval "$(scripts/deps.sh env)"
fi
export TRADEWIND_TEST_DATABASE_URL
export TRADEWIND_CHAOS=full
export TRADEWIND_CHAOS_REPORT="$PWD/docs/chaos.md"
log=$(mktemp -t tradewind-chaos.XXXXXX)
status=0
go test -count=1 -timeout 30m -run 'TestChaos' -v ./internal/chaos/ >"$log" 2>&1 || status=$?
grep -E '^\s*(--- |ok|FAIL)|chaos_test.go:[0-9]+: [^|]' "$log" | grep -v '^ *{' || true
echo "results: docs/chaos.md; full log: $log"
exit $status
