package domain

import (
	"context"
	"fmt"
	"time"
)

// Reservation states.
const (
	ReservationActive    = "active"    // counted in reserved until it expires
	ReservationConverted = "converted" // taken over by its order's allocation
	ReservationReleased  = "released"  // given back by the checkout
	ReservationExpired   = "expired"   // its time ran out
)

// Reservation holds stock for a checkout for a while.
type Reservation struct {
	ID        string    `json:"id"`
	SKU       string    `json:"sku"`
	Quantity  int64     `json:"quantity"`
	OrderRef  string    `json:"order_ref,omitempty"`
	State     string    `json:"state"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
}

// ReservationRequest asks for stock.
type ReservationRequest struct {
	SKU      string
	Quantity int64
	OrderRef string
	TTL      time.Duration
	// IdempotencyKey makes a retried request return the first one's reservation
	// instead of reserving again.
	IdempotencyKey string
}

// Reservations is the synchronous reservation API checkouts call during a flash sale.
type Reservations interface {
	// Reserve holds stock. Returns ECONFLICT with reason insufficient_stock (and the
	// quantity available in Fields) when there is not enough, ECONFLICT with reason
	// idempotency_mismatch when the key was used for a different request.
	Reserve(ctx context.Context, req ReservationRequest) (r Reservation, replayed bool, err error)

	// Release gives an active reservation's stock back. Releasing a released or
	// expired one changes nothing. Returns ENOTFOUND for an unknown id and ECONFLICT
	// when the reservation already belongs to an order.
	Release(ctx context.Context, id string) (Reservation, error)

	// Expire releases active reservations whose time has passed and returns how many.
	Expire(ctx context.Context, now time.Time, limit int) (int, error)
}

// Grant decides one reservation request against what a SKU has available (its
// row locked, requests taken in arrival order): granted, it returns what is left;
// otherwise ECONFLICT insufficient_stock with the quantity available. A request
// that finds too little should be decided again after the SKU's due reservations
// have been expired (ShortOf says when).
func Grant(sku string, available, quantity int64) (left int64, err error) {
	if ShortOf(available, quantity) {
		return available, &Error{Code: ECONFLICT, Reason: "insufficient_stock",
			Message: fmt.Sprintf("only %d of %s available, %d requested", max(available, 0), sku, quantity),
			Fields:  map[string]any{"available": max(available, 0)}}
	}
	return available - quantity, nil
}

// ShortOf reports whether quantity is more than is available.
func ShortOf(available, quantity int64) bool { return quantity > available }

// CheckManualLevel refuses a level a person sets below what is reserved for
// orders and checkouts: ECONFLICT below_reserved, saying what would do.
func CheckManualLevel(onHand, reserved int64) error {
	if onHand < reserved {
		return &Error{Code: ECONFLICT, Reason: "below_reserved",
			Message: fmt.Sprintf("on_hand %d is below the %d units reserved for orders and checkouts; release reservations first or set at least %d", onHand, reserved, reserved)}
	}
	return nil
}
