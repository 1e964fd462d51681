// Package migrations holds Tradewind's numbered SQL migrations, embedded in the
// binary and applied with pressly/goose by `tradewind migrate` and at the start of
// `tradewind all`.
package migrations

import "embed"

// FS holds the *.sql migrations.
//
//go:embed *.sql
var FS embed.FS
