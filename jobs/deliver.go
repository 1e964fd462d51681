package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/tradewind/tradewind/domain"
)

// TypeDeliver sends one outbox delivery to its destination.
const TypeDeliver = "delivery:send"

// DeliverPayload names the delivery.
type DeliverPayload struct {
	DeliveryID int64 `json:"delivery_id"`
}

// DeliveryTaskID is the task id of a delivery's task: while it is queued,
// retrying or running, queuing the delivery again is a no-op.
func DeliveryTaskID(id int64) string { return "delivery:" + strconv.FormatInt(id, 10) }

// deliverMaxRetry bounds Asynq's own retry counter; the attempts counted in
// PostgreSQL against each destination's max_attempts decide first.
const deliverMaxRetry = 1000

// NewDeliverTask returns the task of delivery id, on the low queue: downstream
// work never delays payments.
func NewDeliverTask(id int64, opts ...asynq.Option) *asynq.Task {
	b, _ := json.Marshal(DeliverPayload{DeliveryID: id})
	return asynq.NewTask(TypeDeliver, b, append([]asynq.Option{asynq.TaskID(DeliveryTaskID(id)), asynq.Queue(QueueLow),
		asynq.MaxRetry(deliverMaxRetry), asynq.Timeout(10 * time.Minute)}, opts...)...)
}

// EnqueueDelivery queues delivery id's task, replacing an archived task of the
// same id (a dead delivery retried by hand). A live task is not an error.
func EnqueueDelivery(ctx context.Context, q Enqueuer, tasks TaskInspector, id int64, opts ...asynq.Option) (EnqueueResult, error) {
	return enqueueReplacing(ctx, q, tasks, NewDeliverTask(id, opts...), QueueLow, DeliveryTaskID(id))
}

// RetryAfterError is a failed attempt that says when to try again: it counts as
// a failure, and RetryDelay waits Delay (the destination's backoff, or its own
// Retry-After) instead of the default backoff.
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v; retry in %s", e.Err, e.Delay.Round(time.Millisecond))
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// slotWait is how long a delivery task waits for a place under MaxInFlight
// before it is postponed; inFlightWait is about how long it is then postponed
// (half of it, plus up to half in jitter). Postponing at once would not do: the
// tasks waiting behind a few sends would all be put back in a millisecond, and
// come back only at Asynq's next pass over its retry set.
const (
	slotWait     = 200 * time.Millisecond
	inFlightWait = time.Second
)

func (h *Deliver) slots() chan struct{} {
	h.slotsOnce.Do(func() {
		if h.MaxInFlight > 0 {
			h.inFlight = make(chan struct{}, h.MaxInFlight)
		}
	})
	return h.inFlight
}

// acquire takes a place in slots, waiting at most wait.
func acquire(ctx context.Context, slots chan struct{}, wait time.Duration) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-timer.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// maxRetryAfter caps how long a destination's Retry-After can hold a delivery.
const maxRetryAfter = 24 * time.Hour

// Deliver is the handler for TypeDeliver.
//
// An attempt is counted in PostgreSQL before it is made and recorded when it
// ends. Delivered: done. 410: the destination is disabled with the reason (its
// deliveries wait until a person enables it). Any other failure, a timeout
// included: retried after the destination's backoff (exponential, full jitter,
// between min_backoff and max_backoff) or its Retry-After on 429 and 503, until
// max_attempts; then dead. Each destination has its own rate limiter and circuit
// breaker in each worker process: a task over the rate, or meeting an open
// breaker, is postponed without spending an attempt.
type Deliver struct {
	Deliveries   domain.Deliveries
	Destinations domain.Destinations
	Destination  func(id string) (domain.Destination, bool)
	Sender       func(kind string) (domain.Sender, bool)
	Now          func() time.Time
	// Jitter returns a uniform duration in [0, d] (full jitter); tests make it
	// return d.
	Jitter func(d time.Duration) time.Duration
	Logger *slog.Logger
	// MaxInFlight caps the delivery tasks this worker process runs at once, across
	// destinations (0: no cap). A task over it waits briefly for a free place
	// (slotWait: sends to a healthy destination take milliseconds), then is
	// postponed without spending an attempt. So a destination that hangs holds at
	// most MaxInFlight of the worker's slots (until its breaker opens), and
	// payments keep the others.
	MaxInFlight int

	slotsOnce sync.Once
	inFlight  chan struct{}
	mu        sync.Mutex
	breakers  map[string]*gobreaker.CircuitBreaker[domain.SendResult]
	limiters  map[string]*rate.Limiter
}

// ProcessTask implements asynq.Handler.
func (h *Deliver) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p DeliverPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.DeliveryID == 0 {
		return fmt.Errorf("undecodable %s payload %q: %v: %w", TypeDeliver, t.Payload(), err, asynq.SkipRetry)
	}
	if slots := h.slots(); slots != nil {
		if !acquire(ctx, slots, slotWait) {
			return &PostponedError{Delay: inFlightWait/2 + h.jitter(inFlightWait/2),
				Reason: fmt.Sprintf("this worker is sending %d deliveries, its cap", h.MaxInFlight)}
		}
		defer func() { <-slots }()
	}
	o, _, err := h.Deliveries.Delivery(ctx, p.DeliveryID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return fmt.Errorf("delivery %d does not exist: %w", p.DeliveryID, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	if o.Status == domain.DeliveryDelivered || o.Status == domain.DeliveryDead {
		return nil
	}
	dest, ok := h.Destination(o.Destination)
	if !ok {
		return fmt.Errorf("destination %q of delivery %d is no longer configured; add it back and retry the delivery: %w",
			o.Destination, o.ID, asynq.SkipRetry)
	}
	sender, ok := h.Sender(dest.Kind)
	if !ok {
		return fmt.Errorf("destination %q: kind %q has no sender: %w", dest.ID, dest.Kind, asynq.SkipRetry)
	}
	states, err := h.Destinations.States(ctx, []string{dest.ID})
	if err != nil {
		return err
	}
	if st := states[dest.ID]; !st.Enabled {
		return nil // enabling the destination queues its deliveries again
	}
	log := h.Logger.With(slog.Int64("delivery_id", o.ID), slog.String("destination", dest.ID), slog.String("event_type", string(o.Type)))

	if d := h.reserve(dest); d > 0 {
		return &PostponedError{Delay: d, Reason: fmt.Sprintf("destination %s is over its rate_limit", dest.ID)}
	}
	var attempt domain.Outbound
	began := false
	res, err := h.breaker(dest).Execute(func() (domain.SendResult, error) {
		a, err := h.Deliveries.BeginAttempt(ctx, o.ID)
		if err != nil {
			return domain.SendResult{}, storeError{err}
		}
		attempt, began = a, true
		res := sender.Send(ctx, dest, a, h.now())
		if res.Local && res.Err != nil {
			return res, storeError{res.Err}
		}
		return res, res.Err
	})
	var se storeError
	switch {
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		cool := cooldown(dest)
		return &PostponedError{Delay: cool/2 + h.jitter(cool/2), Reason: fmt.Sprintf("destination %s: circuit breaker open", dest.ID)}
	case errors.As(err, &se) && !began:
		return se.err
	case !began:
		return err
	}
	return h.finish(ctx, log, dest, attempt, res)
}

// finish records how an attempt ended and says what the task does next.
func (h *Deliver) finish(ctx context.Context, log *slog.Logger, dest domain.Destination, o domain.Outbound, res domain.SendResult) error {
	now := h.now()
	a := domain.DeliveryAttempt{At: now, StatusCode: res.StatusCode, Latency: res.Latency}
	if res.Err == nil {
		status, err := h.Deliveries.FinishAttempt(ctx, o.ID, domain.DeliveryOutcome{Attempt: a, Status: domain.DeliveryDelivered, Generation: o.Generation})
		if err != nil {
			return err
		}
		if status == domain.DeliveryPending {
			// A coalesced push whose SKU changed while it ran: once more, later.
			return &PostponedError{Delay: max(dest.Debounce, time.Millisecond), Reason: "changed while it was sent"}
		}
		log.Debug("delivered", slog.Int("attempt", o.Attempts))
		return nil
	}
	a.Error = res.Err.Error()
	if res.Gone {
		reason := fmt.Sprintf("the destination answered 410 Gone on %s (delivery %d): it no longer takes deliveries; fix its url and enable it",
			now.UTC().Format(time.RFC3339), o.ID)
		if err := h.Destinations.Disable(ctx, dest.ID, reason); err != nil {
			return err
		}
		log.Warn("destination answered 410 Gone; disabled until enabled again")
		_, err := h.Deliveries.FinishAttempt(ctx, o.ID, domain.DeliveryOutcome{Attempt: a, Status: domain.DeliveryFailed, Generation: o.Generation})
		return err
	}
	maxAttempts := dest.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = domain.DefaultMaxDeliveryAttempts
	}
	if o.Attempts >= maxAttempts {
		log.Warn("delivery dead: out of attempts", slog.Int("attempts", o.Attempts), slog.String("error", a.Error))
		if _, err := h.Deliveries.FinishAttempt(ctx, o.ID, domain.DeliveryOutcome{Attempt: a, Status: domain.DeliveryDead, Generation: o.Generation}); err != nil {
			return err
		}
		return fmt.Errorf("delivery %d dead after %d attempts: %w: %w", o.ID, o.Attempts, res.Err, asynq.SkipRetry)
	}
	delay := res.RetryAfter
	if delay <= 0 {
		delay = domain.Backoff(o.Attempts, orDefault(dest.MinBackoff, domain.DefaultMinBackoff), orDefault(dest.MaxBackoff, domain.DefaultMaxBackoff), h.jitter)
	}
	delay = min(delay, maxRetryAfter)
	a.RetryIn = delay
	log.Info("delivery attempt failed; will retry", slog.Int("attempt", o.Attempts), slog.Int("status_code", res.StatusCode),
		slog.String("error", a.Error), slog.String("retry_in", delay.String()))
	if _, err := h.Deliveries.FinishAttempt(ctx, o.ID, domain.DeliveryOutcome{Attempt: a, Status: domain.DeliveryFailed, NextAt: now.Add(delay), Generation: o.Generation}); err != nil {
		return err
	}
	return &RetryAfterError{Delay: delay, Err: res.Err}
}

func (h *Deliver) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

func (h *Deliver) jitter(d time.Duration) time.Duration {
	if h.Jitter != nil {
		return h.Jitter(d)
	}
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// storeError marks a failure of our own store inside the breaker: not the
// destination's fault, so it does not count against it.
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }

// reserve takes one request from dest's rate limit, or returns how long to wait
// for one (taking nothing).
func (h *Deliver) reserve(dest domain.Destination) time.Duration {
	if dest.RateLimit <= 0 {
		return 0
	}
	h.mu.Lock()
	if h.limiters == nil {
		h.limiters = map[string]*rate.Limiter{}
	}
	lim := h.limiters[dest.ID]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(dest.RateLimit), max(1, int(dest.RateLimit)))
		h.limiters[dest.ID] = lim
	}
	h.mu.Unlock()
	now := h.now()
	r := lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}

func cooldown(dest domain.Destination) time.Duration {
	return orDefault(dest.BreakerCooldown, domain.DefaultBreakerCooldown)
}

// breaker returns dest's circuit breaker: it opens after BreakerFailures
// consecutive failures, stays open for BreakerCooldown, then lets one request
// probe. Its state changes are recorded for the API.
func (h *Deliver) breaker(dest domain.Destination) *gobreaker.CircuitBreaker[domain.SendResult] {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.breakers == nil {
		h.breakers = map[string]*gobreaker.CircuitBreaker[domain.SendResult]{}
	}
	if b := h.breakers[dest.ID]; b != nil {
		return b
	}
	failures := dest.BreakerFailures
	if failures <= 0 {
		failures = domain.DefaultBreakerFailures
	}
	b := gobreaker.NewCircuitBreaker[domain.SendResult](gobreaker.Settings{
		Name:        dest.ID,
		MaxRequests: 1,
		Timeout:     cooldown(dest),
		ReadyToTrip: func(c gobreaker.Counts) bool { return int(c.ConsecutiveFailures) >= failures },
		IsSuccessful: func(err error) bool {
			var se storeError
			return err == nil || errors.As(err, &se)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			state := breakerState(to)
			h.Logger.Warn("destination circuit breaker", slog.String("destination", name), slog.String("state", state))
			// Called under the breaker's lock: record it without holding that.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := h.Destinations.SetBreaker(ctx, name, state); err != nil {
					h.Logger.Warn("could not record the breaker state", slog.String("destination", name), slog.String("error", err.Error()))
				}
			}()
		},
	})
	h.breakers[dest.ID] = b
	return b
}

// Budget says how many deliveries to dest may wait queued and untried, as this
// worker process sees dest (SweepDeliveries.Budget): none while its breaker is
// open — new ones wait in the outbox, costing neither a task nor an attempt —
// one while it is half-open (the probe), and while its latest sends failed,
// only as many as it takes to open the breaker, so a destination that has just
// gone down is not handed the whole backlog first. Otherwise no limit (-1).
func (h *Deliver) Budget(dest string) int {
	h.mu.Lock()
	b := h.breakers[dest]
	h.mu.Unlock()
	if b == nil {
		return -1
	}
	switch b.State() {
	case gobreaker.StateOpen:
		return 0
	case gobreaker.StateHalfOpen:
		return 1
	}
	failing := int(b.Counts().ConsecutiveFailures)
	if failing == 0 {
		return -1
	}
	trip := domain.DefaultBreakerFailures
	if d, ok := h.Destination(dest); ok && d.BreakerFailures > 0 {
		trip = d.BreakerFailures
	}
	return max(1, trip-failing)
}

func breakerState(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return domain.BreakerOpen
	case gobreaker.StateHalfOpen:
		return domain.BreakerHalfOpen
	}
	return domain.BreakerClosed
}

// orDefault returns v, or def when v is not positive: a setting left at zero.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
