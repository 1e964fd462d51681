package httpapi

import (
	"context"
	"crypto/sha256"

	"github.com/tradewind/tradewind/domain"
)

// claimTransmission makes the transmission id of a verified delivery single-use for
// providers whose signature binds the body only weakly (domain.SingleUse: PayPal signs a
// CRC-32 of it). The first body under an id is accepted, the same body again goes on
// (the inbox answers it as a duplicate), another body is refused with 401 and recorded
// as replayed_transmission. Without a store (Params.Transmissions nil) nothing is checked.
// It returns the rejection cause with the error.
func (s *Server) claimTransmission(ctx context.Context, provider domain.Provider, src domain.Source, d domain.Delivery) (string, error) {
	su, ok := provider.(domain.SingleUse)
	if !ok || s.p.Transmissions == nil {
		return "", nil
	}
	t, ok := su.Transmission(src, d)
	if !ok {
		return "", nil
	}
	sum := sha256.Sum256(d.Body)
	t.Source, t.BodyHash = src.ID, sum[:]
	err := s.p.Transmissions.Claim(ctx, t)
	switch domain.ErrorCode(err) {
	case "":
		return "", nil
	case domain.ECONFLICT:
		return domain.CauseReplayedTransmission, &domain.Error{Code: domain.EUNAUTHORIZED, Reason: domain.CauseReplayedTransmission,
			Message: "this transmission id was already delivered with another body; a transmission id is single-use, so the provider must send a new transmission", Err: err}
	default:
		return "unavailable", domain.WrapError(err, domain.EUNAVAILABLE, "the webhook could not be checked against transmissions already seen; nothing was accepted, retry later")
	}
}
