package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
)

type webhookList struct {
	Webhooks []struct {
		ID        int64  `json:"id"`
		Status    string `json:"status"`
		EventID   string `json:"event_id"`
		LastError string `json:"last_error"`
	} `json:"webhooks"`
}

func TestFailedWebhookIsListedAndReplayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})

	// A worker that does not know the source fails the entry for good.
	blind := NewMain(e.config(), map[string]domain.Source{}, testLogger())
	if err := blind.Run(context.Background(), Roles{Work: true}); err != nil {
		t.Fatal(err)
	}
	e.send(m, delivery{testSource, "payment_intent.succeeded", webhookOptions("9401", 300)})
	var list webhookList
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		api(t, m, http.MethodGet, "/api/v1/webhooks?status=failed&source="+testSource, nil, &list)
		return len(list.Webhooks) == 1, fmt.Sprintf("one failed webhook (have %+v)", list.Webhooks)
	})
	if !strings.Contains(list.Webhooks[0].LastError, "no longer configured") {
		t.Errorf("last_error = %q, want it to say why", list.Webhooks[0].LastError)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	blind.Close(ctx)

	id := list.Webhooks[0].ID
	var one map[string]any
	if code := api(t, m, http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d", id), nil, &one); code != http.StatusOK ||
		!strings.Contains(one["body"].(string), "pi_sim_9401") || one["headers"] == nil {
		t.Fatalf("GET webhook = %d %v, want its headers and raw body", code, one)
	}

	e.start(e.config(), Roles{Work: true}) // a worker that knows the source again
	if code := api(t, m, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/replay", id), nil, nil); code != http.StatusAccepted {
		t.Fatalf("replay = %d, want 202", code)
	}
	waitPaymentStatus(t, m, "9401", "paid", 15*time.Second)
	var errBody map[string]map[string]string
	if code := api(t, m, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/replay", id), nil, &errBody); code != http.StatusConflict || errBody["error"]["code"] != "already_applied" {
		t.Errorf("replaying an applied webhook = %d %v, want 409 already_applied", code, errBody)
	}
	if code := api(t, m, http.MethodPost, "/api/v1/webhooks/999999/replay", nil, nil); code != http.StatusNotFound {
		t.Errorf("replaying a missing webhook = %d, want 404", code)
	}
	if code := api(t, m, http.MethodGet, "/api/v1/webhooks?status=lost", nil, nil); code != http.StatusBadRequest {
		t.Errorf("unknown status filter = %d, want 400", code)
	}
}

func webhookOptions(orderRef string, amount int64) webhook.SampleOptions {
	return webhook.SampleOptions{OrderRef: orderRef, Amount: amount}
}

func TestReplayCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	blind := NewMain(e.config(), map[string]domain.Source{}, testLogger())
	if err := blind.Run(context.Background(), Roles{Work: true}); err != nil {
		t.Fatal(err)
	}
	e.send(m, delivery{testSource, "payment_intent.succeeded", webhookOptions("9402", 300)})
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		return e.count(`SELECT count(*) FROM inbox WHERE status = 'failed'`) == 1, "the webhook to fail"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	blind.Close(ctx)
	e.start(e.config(), Roles{Work: true})

	var out strings.Builder
	if err := runReplay(context.Background(), &out, e.config(), nil, domain.InboxFilter{Status: domain.InboxFailed, Source: testSource}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "replayed 1 webhook(s)") {
		t.Errorf("output = %q", out.String())
	}
	waitPaymentStatus(t, m, "9402", "paid", 15*time.Second)

	cmd := newRootCommand(&out, &out)
	cmd.SetArgs([]string{"replay", "not-an-id"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "not a webhook id") {
		t.Errorf("replay not-an-id = %v, want an error naming the bad id", err)
	}
}
