package postgres

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

// TestBinaryArraysReachPostgreSQLAsTheyWereBuilt sends each element type the
// inbox insert uses through PostgreSQL and reads it back as text: what the
// server decoded is what was appended, NULLs included, and times are rounded to
// the microsecond (half to even) as the server rounds the text form of the same time.
func TestBinaryArraysReachPostgreSQLAsTheyWereBuilt(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, testenv.DatabaseURL(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	texts := []string{"", "héllo ✓", `quote " backslash \ braces {} comma ,`, strings.Repeat("x", 70_000)}
	ta := newBinaryArray(oidText, len(texts)+1, 0)
	for _, s := range texts {
		ta.text(s)
	}
	ta.null()
	var gotTexts []*string
	rows, err := db.QueryContext(ctx, `SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i`, ta.value())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s *string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		gotTexts = append(gotTexts, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(gotTexts) != len(texts)+1 || gotTexts[len(texts)] != nil {
		t.Fatalf("read back %d texts, last %v; want %d and a NULL", len(gotTexts), gotTexts[len(gotTexts)-1], len(texts)+1)
	}
	for i, s := range texts {
		if gotTexts[i] == nil || *gotTexts[i] != s {
			t.Errorf("text %d came back changed (%d bytes sent)", i, len(s))
		}
	}

	blobs := [][]byte{{}, {0, 0xff, '\\', 'x'}, bytes.Repeat([]byte{0x80}, 5000)}
	ba := newBinaryArray(oidBytea, len(blobs), 0)
	for _, b := range blobs {
		ba.bytes(b)
	}
	var gotBlobs pq.ByteaArray
	if err := db.QueryRowContext(ctx, `SELECT $1::bytea[]`, ba.value()).Scan(&gotBlobs); err != nil {
		t.Fatal(err)
	}
	for i, b := range blobs {
		if i >= len(gotBlobs) || !bytes.Equal(gotBlobs[i], b) {
			t.Errorf("bytea %d came back changed", i)
		}
	}

	base := time.Date(2026, 12, 1, 20, 30, 0, 0, time.FixedZone("AST", -4*3600))
	times := []time.Time{base, base.Add(1_499), base.Add(1_500), base.Add(2_500), base.Add(2_501), base.Add(999_999_999), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 2_500, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_500, time.UTC)}
	tsa := newBinaryArray(oidTimestamptz, len(times)+1, 0)
	texts = texts[:0]
	for _, tm := range times {
		tsa.timestamptz(tm)
		texts = append(texts, tm.Format(time.RFC3339Nano))
	}
	tsa.timestamptz(time.Time{})
	var same bool
	var nulls int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT array_agg(x) FROM unnest($1::timestamptz[]) AS x WHERE x IS NOT NULL) = $2::text[]::timestamptz[],
		(SELECT count(*) FROM unnest($1::timestamptz[]) AS x WHERE x IS NULL)`, tsa.value(), pq.StringArray(texts)).Scan(&same, &nulls); err != nil {
		t.Fatal(err)
	}
	if !same || nulls != 1 {
		t.Errorf("timestamps: same as their text form = %v, NULLs = %d; want true and 1 (the zero time)", same, nulls)
	}

	ja, bo := newBinaryArray(oidJSONB, 2, 0), newBinaryArray(oidBool, 2, 0)
	ja.jsonb(func(b []byte) []byte { return append(b, `{"B":["2"],"A":["1"]}`...) })
	ja.jsonb(func(b []byte) []byte { return append(b, `{}`...) })
	bo.boolean(true)
	bo.boolean(false)
	var doc string
	var flags pq.BoolArray
	if err := db.QueryRowContext(ctx, `SELECT ($1::jsonb[])[1]::text, $2::bool[]`, ja.value(), bo.value()).Scan(&doc, &flags); err != nil {
		t.Fatal(err)
	}
	if doc != `{"A": ["1"], "B": ["2"]}` || len(flags) != 2 || !flags[0] || flags[1] {
		t.Errorf("jsonb read back %s, bools %v; want {\"A\": [\"1\"], \"B\": [\"2\"]} and [true false]", doc, flags)
	}

	bad := newBinaryArray(oidText, 1, 0)
	bad.text("\xff\xfe not UTF-8")
	_, err = db.ExecContext(ctx, `SELECT $1::text[]`, bad.value())
	if got := domain.ErrorCode(storeError(err)); got != domain.EINVALID {
		t.Errorf("invalid UTF-8 in a text element: error %v (code %q), want one that storeError makes EINVALID", err, got)
	}
}
