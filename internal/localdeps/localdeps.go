// Package localdeps finds `make run`'s databases for every subcommand the same
// way: a variable that is set wins; when TRADEWIND_DATABASE_URL or
// TRADEWIND_REDIS_URL is not set, the local servers scripts/deps.sh starts are
// used (its ports, TRADEWIND_PG_PORT and TRADEWIND_REDIS_PORT, default 55432 and
// 56379), and stderr says so once. So `tradewind replay` or `migrate` in a second
// terminal works like `simulate` and `bench` do, and a server elsewhere that
// lacks the variable fails to connect with the URL it tried in the message
// instead of starting on nothing.
package localdeps

import (
	"fmt"
	"os"
	"sync"
)

// URLs returns the URLs of scripts/deps.sh's servers, from its port variables.
func URLs(lookup func(string) (string, bool)) (databaseURL, redisURL string) {
	pg, ok := lookup("TRADEWIND_PG_PORT")
	if !ok || pg == "" {
		pg = "55432"
	}
	rd, ok := lookup("TRADEWIND_REDIS_PORT")
	if !ok || rd == "" {
		rd = "56379"
	}
	return "postgres://postgres@127.0.0.1:" + pg + "/tradewind?sslmode=disable", "redis://127.0.0.1:" + rd + "/0"
}

// Env wraps an environment lookup so that the two URLs default to the
// local servers; note is told once per variable that the default was taken.
func Env(lookup func(string) (string, bool), note func(key, value string)) func(string) (string, bool) {
	var once sync.Map
	return func(key string) (string, bool) {
		v, ok := lookup(key)
		if ok && v != "" {
			return v, ok
		}
		db, redis := URLs(lookup)
		switch key {
		case "TRADEWIND_DATABASE_URL":
			v = db
		case "TRADEWIND_REDIS_URL":
			v = redis
		default:
			return v, ok
		}
		if _, told := once.LoadOrStore(key, true); !told && note != nil {
			note(key, v)
		}
		return v, true
	}
}

// NoteToStderr tells stderr that the local server is used for key.
func NoteToStderr(key, value string) {
	fmt.Fprintf(os.Stderr, "tradewind: %s is not set; using make run's local server at %s (scripts/deps.sh)\n", key, value)
}
