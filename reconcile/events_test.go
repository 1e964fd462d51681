package reconcile_test

import (
	"testing"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// TestEventIDsInALanguageCollation: on a database created with a language's
// locale (the postgres Docker image's default is en_US.utf8), the inbox sorts
// event ids by that language's rules — "evt_…a…" before "evt_…B…" — where
// Stripe's listing is sorted here by bytes ("B" before "a"). Two events of one
// second, both received, are compared as the same events: nothing missing,
// nothing unknown to Stripe.
func TestEventIDsInALanguageCollation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ok bool
	if err := e.db.Get(&ok, `SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')`); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("PostgreSQL has no ICU collations (built without ICU): a language's collation cannot be set")
	}
	// As a database created with a language's locale collates it.
	if _, err := e.db.Exec(`ALTER TABLE inbox ALTER COLUMN event_id TYPE text COLLATE "und-x-icu"`); err != nil {
		t.Fatal(err)
	}
	created := now.Add(-time.Hour).Unix()
	for i, pi := range []string{"pi_3Nq8aXyz", "pi_3Nq8Bxyz"} {
		p := payment{pi: pi, order: "7000" + string(rune('0'+i)), created: created, amount: 1500}
		e.list(p)
		e.deliver(p.succeeded())
	}
	e.runFinds(domain.SourceReport{Source: "acme-stripe", Compared: 2 + 2})
	if n := e.count(`SELECT count(*) FROM conflicts`); n != 0 {
		t.Errorf("%d conflicts; want none", n)
	}
}
