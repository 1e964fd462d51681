package domain

import (
	"context"
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
