package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/domain"
)

// BenchmarkApplyEntries applies what the e2e burst applies — payments for new
// orders, 32 entries a call — without destinations and with one (its outbox
// written in the same transaction); ns/op is per entry. It isolates the apply
// path's cost from HTTP, Asynq and the load generator:
//
//	go test -run '^$' -bench ApplyEntries ./adapters/postgres
func BenchmarkApplyEntries(b *testing.B) {
	for _, withOutbox := range []bool{false, true} {
		name := "no-destinations"
		if withOutbox {
			name = "outbox"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			db := openDB(b)
			l := &postgres.Ledger{DB: db}
			if withOutbox {
				l.Destinations = []domain.Destination{{ID: "crm", Kind: domain.DestinationWebhook, URL: "http://127.0.0.1:9/"}}
			}
			const batch = 32
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				b.StopTimer()
				entries := make([]domain.EntryEvents, min(batch, b.N-done))
				for i := range entries {
					n := done + i
					ev := domain.Event{Type: domain.PaymentSucceeded, Provider: "stripe", Source: "stripe",
						EventID: fmt.Sprintf("evt_%s_%d", name, n), OrderRef: fmt.Sprintf("B-%s-%d", name, n),
						PaymentRef: fmt.Sprintf("pi_%s_%d", name, n), OccurredAt: t0,
						Payment: &domain.PaymentChange{Amount: 2500, Currency: "USD"}}
					entries[i] = domain.EntryEvents{ID: insertEntry(b, db, ev), Events: []domain.Event{ev}}
				}
				b.StartTimer()
				for i, err := range l.ApplyEntries(ctx, entries) {
					if err != nil {
						b.Fatalf("entry %d: %v", entries[i].ID, err)
					}
				}
			}
		})
	}
}
