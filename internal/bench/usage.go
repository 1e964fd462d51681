package bench

// Usage is the long help of `tradewind bench`: what it measures, with what, and
// what it drops and flushes.
func Usage() string {
	return `Measure Tradewind against baselines taken in the same run, on the same machine,
and print each figure as a ratio to its baseline, beside its target (the README's
"Benchmarks" section lists them and the latest figures).

Scenarios (all of them when none is named):
` + Help() + `
It is self-contained: it uses the PostgreSQL and Redis that ` + "`make run`" + ` starts
(or TRADEWIND_DATABASE_URL / TRADEWIND_REDIS_URL), runs Tradewind in this process on
a loopback port, and writes its figures as JSON.

It DROPS and recreates the database --database (default tradewind_bench) on that
PostgreSQL server for every scenario, and FLUSHES the Redis database number
--redis-db (default 15) on that Redis server. Nothing else is touched; it refuses
a --redis-db equal to the one TRADEWIND_REDIS_URL names.`
}

// Examples are `tradewind bench`'s examples, for its help.
const Examples = `  tradewind bench
  tradewind bench ingest --duration 10s --concurrency 8,32,64
  tradewind bench e2e --workers 40 --json e2e.json`
