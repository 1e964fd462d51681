package main

import (
	"github.com/lib/pq"
	"net/url"
	"testing"
)

func postgresAddr(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func pqArray(s []string) any { return pq.StringArray(s) }
