package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/lib/pq"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

// fakeProvider normalizes with normalize; with fetch set it is a domain.Fetcher.
type fakeProvider struct {
	normalize func(domain.Message) ([]domain.Event, error)
}

func (fakeProvider) Kind() string                                                   { return "fake" }
func (fakeProvider) CheckSource(domain.Source) error                                { return nil }
func (fakeProvider) Verify(context.Context, domain.Source, domain.Delivery) error   { return nil }
func (fakeProvider) Handles(string) bool                                            { return true }
func (fakeProvider) Parse(domain.Source, domain.Delivery) ([]domain.Message, error) { return nil, nil }
func (p fakeProvider) Normalize(_ domain.Source, m domain.Message) ([]domain.Event, error) {
	return p.normalize(m)
}

type fakeFetcher struct {
	fakeProvider
	calls int
}

// Fetch confirms every message.
func (f *fakeFetcher) Fetch(_ context.Context, _ domain.Source, m domain.Message) (domain.Message, error) {
	f.calls++
	m.Unconfirmed = false
	return m, nil
}

// oneProvider is a registry of one provider, whatever the kind.
type oneProvider struct{ p domain.Provider }

func (o oneProvider) Provider(string) (domain.Provider, bool) { return o.p, true }

func (e *env) handler(p domain.Provider, src domain.Source) *jobs.ProcessWebhook {
	return &jobs.ProcessWebhook{
		Inbox: e.inbox, Applier: &postgres.Ledger{DB: e.db},
		Sources: domain.Sources{src.ID: src}, Providers: oneProvider{p},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func (e *env) setAttempts(id int64, n int) {
	e.t.Helper()
	if _, err := e.db.Exec(`UPDATE inbox SET attempts = $2 WHERE id = $1`, id, n); err != nil {
		e.t.Fatal(err)
	}
}

func run(h *jobs.ProcessWebhook, id int64) error {
	return h.ProcessTask(context.Background(), jobs.NewProcessWebhookTask(id, jobs.QueueDefault))
}

// TestProcessWebhookDecidesHowAnAttemptEnds runs the handler outside any Asynq
// server, as after a Redis wipe: Asynq's retry counter says nothing, so the
// attempts counted in PostgreSQL alone bound the retries.
func TestProcessWebhookDecidesHowAnAttemptEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := domain.Source{ID: "src-fake", Provider: "fake"}
	dataException := fmt.Errorf("apply inbox entry 1: %w", &pq.Error{Code: "22021", Message: `invalid byte sequence for encoding "UTF8": 0x00`})
	tests := []struct {
		name          string
		attemptsStart int
		err           error // what normalizing returns
		want          row   // the inbox row after the attempt (LastError: a substring)
		wantRetry     bool  // the task returns an error Asynq retries
		wantSkipRetry bool  // the task returns an error wrapping asynq.SkipRetry
	}{
		{name: "applied", want: row{Status: domain.InboxApplied, Attempts: 1}},
		{name: "invalid input fails at once", err: domain.Errorf(domain.EINVALID, "order ref holds a NUL byte"),
			want: row{Status: domain.InboxFailed, Attempts: 1, LastError: "order ref holds a NUL byte"}, wantSkipRetry: true},
		{name: "something that does not exist fails at once", err: domain.Errorf(domain.ENOTFOUND, "order 9 is not in the store"),
			want: row{Status: domain.InboxFailed, Attempts: 1, LastError: "order 9 is not in the store"}, wantSkipRetry: true},
		{name: "data PostgreSQL refuses (SQLSTATE 22) fails at once", err: dataException,
			want: row{Status: domain.InboxFailed, Attempts: 1, LastError: "0x00"}, wantSkipRetry: true},
		{name: "key too long for its index (SQLSTATE 54000) fails at once", err: &pq.Error{Code: "54000", Message: "index row size exceeds maximum"},
			want: row{Status: domain.InboxFailed, Attempts: 1, LastError: "index row size"}, wantSkipRetry: true},
		{name: "provider not confirming rejects", err: domain.Errorf(domain.EUNAUTHORIZED, "the gateway does not know it"),
			want: row{Status: domain.InboxRejected, Attempts: 1, LastError: "the gateway does not know it"}},
		{name: "unavailable dependency is retried", err: domain.Errorf(domain.EUNAVAILABLE, "PostgreSQL is unavailable"),
			want: row{Status: domain.InboxReceived, Attempts: 1, LastError: "PostgreSQL is unavailable"}, wantRetry: true},
		{name: "unexpected error is retried", attemptsStart: 18, err: errors.New("connection reset by peer"),
			want: row{Status: domain.InboxReceived, Attempts: 19, LastError: "connection reset by peer"}, wantRetry: true},
		{name: "transient error on the last attempt fails", attemptsStart: jobs.DefaultMaxAttempts - 1, err: errors.New("connection reset by peer"),
			want: row{Status: domain.InboxFailed, Attempts: jobs.DefaultMaxAttempts, LastError: "attempt 20 of at most 20 failed"}, wantSkipRetry: true},
		{name: "past the maximum gives up without trying", attemptsStart: jobs.DefaultMaxAttempts, err: errors.New("must not be tried"),
			want: row{Status: domain.InboxFailed, Attempts: jobs.DefaultMaxAttempts + 1, LastError: "gave up"}, wantSkipRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := e.insert("fake", 1, time.Now())[0]
			e.setAttempts(id, tt.attemptsStart)
			tried := false
			h := e.handler(fakeProvider{normalize: func(domain.Message) ([]domain.Event, error) {
				tried = true
				return nil, tt.err
			}}, src)

			err := run(h, id)
			if got := err != nil && !errors.Is(err, asynq.SkipRetry); got != tt.wantRetry {
				t.Errorf("retried = %v (err %v), want %v", got, err, tt.wantRetry)
			}
			if got := errors.Is(err, asynq.SkipRetry); got != tt.wantSkipRetry {
				t.Errorf("skip retry = %v (err %v), want %v", got, err, tt.wantSkipRetry)
			}
			got := e.row(id)
			if !strings.Contains(got.LastError, tt.want.LastError) {
				t.Errorf("last_error = %q, want it to contain %q", got.LastError, tt.want.LastError)
			}
			got.LastError = tt.want.LastError
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("inbox row (-want +got):\n%s", diff)
			}
			if tt.attemptsStart >= jobs.DefaultMaxAttempts && tried {
				t.Error("an entry past its maximum attempts was tried again")
			}
		})
	}
}

// The poison event seen from outside: a signed Stripe event with \u0000 in
// metadata.order_ref retried 34 times. Through the real Stripe normalizer and the
// real ledger it fails once, for good, and says why.
func TestPoisonStripeEventFailsPermanently(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := domain.Source{ID: "acme-stripe", Provider: stripe.Kind, Secrets: []string{"whsec_test"}}
	req, err := stripe.Provider{}.Sample(src, "payment_intent.succeeded",
		webhook.SampleOptions{EventID: "evt_poison", OrderRef: "A\x00B", Amount: 100, Currency: "USD", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(req.Body), `\u0000`) {
		t.Fatalf("body does not carry the NUL escape: %s", req.Body)
	}
	res, err := e.inbox.Insert(context.Background(), []domain.InboxEntry{{Source: src.ID, Provider: stripe.Kind, EventID: "evt_poison",
		EventType: "payment_intent.succeeded", Header: req.Header, Body: req.Body, ReceivedAt: time.Now(), Status: domain.InboxReceived}})
	if err != nil {
		t.Fatal(err)
	}
	id := res[0].ID
	h := e.handler(stripe.Provider{}, src)

	if err := run(h, id); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("ProcessTask = %v, want an error wrapping asynq.SkipRetry", err)
	}
	got := e.row(id)
	t.Logf("last_error: %s", got.LastError)
	if got.Status != domain.InboxFailed || got.Attempts != 1 || got.LastError == "" {
		t.Errorf("inbox row = %+v, want failed after 1 attempt with the reason", got)
	}
	// A task delivered again (a duplicate, a lost acknowledgement) changes nothing.
	if err := run(h, id); err != nil {
		t.Errorf("second delivery = %v, want nil", err)
	}
	if got := e.row(id); got.Attempts != 1 {
		t.Errorf("attempts after a second delivery = %d, want 1", got.Attempts)
	}
}

func TestConfirmationCallsOverTheCapArePostponedWithoutSpendingAnAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	src := domain.Source{ID: "src-fake", Provider: "fake", Settings: map[string]string{jobs.SettingConfirmRateLimit: "1"}}
	fetcher := &fakeFetcher{fakeProvider: fakeProvider{normalize: func(domain.Message) ([]domain.Event, error) { return nil, nil }}}
	h := e.handler(fetcher, src)
	h.Confirmations = &jobs.ConfirmLimiter{Now: func() time.Time { return now }}
	ids := e.insert("fake", 3, now)
	if _, err := e.db.Exec(`UPDATE inbox SET unconfirmed = true`); err != nil {
		t.Fatal(err)
	}

	if err := run(h, ids[0]); err != nil {
		t.Fatalf("first callback: %v", err)
	}
	err := run(h, ids[1])
	var postponed *jobs.PostponedError
	if !errors.As(err, &postponed) || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("second callback within the minute = %v, want postponed", err)
	}
	if postponed.Delay <= 0 || jobs.IsFailure(err) || jobs.RetryDelay(3, err, nil) != postponed.Delay {
		t.Errorf("postponed %v: IsFailure %v, RetryDelay %v; want a positive delay, no failure, the delay asked for",
			postponed.Delay, jobs.IsFailure(err), jobs.RetryDelay(3, err, nil))
	}
	if diff := cmp.Diff(row{Status: domain.InboxReceived}, e.row(ids[1])); diff != "" {
		t.Errorf("postponed entry (-want +got):\n%s", diff)
	}
	if fetcher.calls != 1 {
		t.Errorf("confirmation calls = %d, want 1", fetcher.calls)
	}

	now = now.Add(time.Minute) // the allowance refills
	for _, id := range ids[1:] {
		if err := run(h, id); err != nil && !errors.As(err, &postponed) {
			t.Fatal(err)
		}
	}
	if fetcher.calls != 2 {
		t.Errorf("confirmation calls a minute later = %d, want 2 (one a minute)", fetcher.calls)
	}
}

// A postponed task goes back to Asynq's retry set with the delay it asked for and
// its retry counter unchanged.
func TestPostponedTaskSpendsNoRetryInAsynq(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := asynq.NewServer(e.redis, asynq.Config{
		Concurrency: 1, Queues: jobs.Weights, RetryDelayFunc: jobs.RetryDelay, IsFailure: jobs.IsFailure,
		Logger: jobs.Logger{L: slog.New(slog.NewTextHandler(io.Discard, nil))}, TaskCheckInterval: 50 * time.Millisecond,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeProcessWebhook, func(context.Context, *asynq.Task) error {
		return &jobs.PostponedError{Delay: time.Hour, Reason: "over the cap"}
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	if _, err := e.client.Enqueue(jobs.NewProcessWebhookTask(1, jobs.QueueCritical)); err != nil {
		t.Fatal(err)
	}
	var info *asynq.TaskInfo
	waitFor(t, func() (bool, string) {
		var err error
		info, err = e.inspector.GetTaskInfo(jobs.QueueCritical, jobs.ProcessWebhookTaskID(1))
		return err == nil && info.State == asynq.TaskStateRetry, "the task to be postponed"
	})
	if info.Retried != 0 || time.Until(info.NextProcessAt) < 30*time.Minute {
		t.Errorf("postponed task: retried %d, next run in %s; want 0 and about an hour", info.Retried, time.Until(info.NextProcessAt).Round(time.Minute))
	}
}
