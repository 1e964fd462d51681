package httpapi

import (
	"context"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// noOps is the OpsReader of a server wired without one: every read is EUNAVAILABLE.
type noOps struct{}

var errNoOps = domain.Errorf(domain.EUNAVAILABLE, "this server has no ops reader configured")

func (noOps) OrderRequests(context.Context, string, int) (domain.OrderRequests, error) {
	return domain.OrderRequests{}, errNoOps
}
func (noOps) Orders(context.Context, domain.OrderFilter) ([]domain.Order, error) {
	return nil, errNoOps
}
func (noOps) FindOrders(context.Context, string, int) ([]string, error) { return nil, errNoOps }
func (noOps) StockList(context.Context, domain.StockFilter) ([]domain.StockRow, error) {
	return nil, errNoOps
}
func (noOps) Ledger(context.Context, string, int) ([]domain.LedgerLine, error) { return nil, errNoOps }
func (noOps) Payments(context.Context, string) ([]domain.PaymentLine, error)   { return nil, errNoOps }
func (noOps) Holdings(context.Context, string) ([]domain.OrderHolding, error)  { return nil, errNoOps }
func (noOps) RejectionList(context.Context, domain.RejectionFilter) ([]domain.Rejection, error) {
	return nil, errNoOps
}
func (noOps) HourlyCounts(context.Context, time.Time) ([]domain.HourCount, error) {
	return nil, errNoOps
}
func (noOps) EventsOf(context.Context, int64) ([]domain.NormalizedEvent, error) { return nil, nil }
func (noOps) ActiveReservations(context.Context, string, int) ([]domain.Reservation, error) {
	return nil, nil
}
func (noOps) RecordAction(context.Context, domain.AuditEntry) error     { return nil }
func (noOps) Actions(context.Context, int) ([]domain.AuditEntry, error) { return nil, nil }
