package domain

import "time"

// FindDestination returns the destination id of ds (the configured ones).
func FindDestination(ds []Destination, id string) (Destination, bool) {
	for _, d := range ds {
		if d.ID == id {
			return d, true
		}
	}
	return Destination{}, false
}

// DeliveryDelay is how long a pending delivery to one of ds waits before it is
// queued: a coalescing destination's debounce, else nothing.
func DeliveryDelay(ds []Destination, ref DeliveryRef) time.Duration {
	if d, ok := FindDestination(ds, ref.Destination); ok && d.Coalesces() {
		return d.Debounce
	}
	return 0
}

// DestinationsOfKind are the destinations of ds of kind, in order.
func DestinationsOfKind(ds []Destination, kind string) []Destination {
	var out []Destination
	for _, d := range ds {
		if d.Kind == kind {
			out = append(out, d)
		}
	}
	return out
}

// StockChannels returns, of the sender of each destination kind, those that
// also read a store's levels (StockChannel).
func StockChannels(senders func(kind string) (Sender, bool)) func(kind string) (StockChannel, bool) {
	return func(kind string) (StockChannel, bool) {
		s, ok := senders(kind)
		if !ok {
			return nil, false
		}
		c, ok := s.(StockChannel)
		return c, ok
	}
}
