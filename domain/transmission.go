package domain

import (
	"context"
	"time"
)

// CauseReplayedTransmission is recorded when a delivery reuses a transmission id that
// already carried a different body (see SingleUse).
const CauseReplayedTransmission = "replayed_transmission"

// Transmission is one signed delivery of a provider whose signature binds a transmission
// id and a time but its body only weakly.
type Transmission struct {
	Source string
	ID     string
	// BodyHash is the SHA-256 of the delivery's raw body: the binding the signature lacks.
	BodyHash []byte
	// Until is when a replay of the transmission could no longer verify (its signed time
	// plus the tolerance, with a margin): after it, its record may be forgotten.
	Until time.Time
}

// SingleUse is implemented by providers whose signature covers a transmission id and a
// time but binds the body only by a weak checksum (PayPal signs the CRC-32 of the body, so
// a body with the same CRC verifies under a genuine transmission's headers). The ingress
// makes each transmission id single-use: the first body under it is accepted, the same
// body again is a plain duplicate, any other body is refused (CauseReplayedTransmission).
type SingleUse interface {
	// Transmission returns the transmission a verified delivery is. ok is false when the
	// delivery carries none (nothing to record).
	Transmission(src Source, d Delivery) (t Transmission, ok bool)
}

// Transmissions remembers the transmissions seen within their tolerance window.
type Transmissions interface {
	// Claim records t atomically: concurrent claims of one id with different bodies
	// admit exactly one. Returns nil when t is new or the same body was claimed before,
	// ECONFLICT when the id was used with another body, EUNAVAILABLE when the store
	// cannot be reached.
	Claim(ctx context.Context, t Transmission) error
}
