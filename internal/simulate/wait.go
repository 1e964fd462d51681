package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/domain"
)

// awaitPoll is how often Await asks Tradewind again.
const awaitPoll = 100 * time.Millisecond

// AppliedOrder is an order Await found applied: its ref and GET
// /api/v1/orders/{ref}'s answer as Tradewind gave it.
type AppliedOrder struct {
	Ref  string
	JSON json.RawMessage
}

// Await waits, within o.WaitTimeout, until every order r named is applied: each
// webhook the run stored for it (the inbox ids Tradewind answered with) has left
// "received", and GET /api/v1/orders/{ref} answers 200. It asks the Tradewind the
// webhooks went to, with o.APIToken. A 404 is asked again until the time is up.
//
// It returns the orders found, in r.Refs' order, and an error naming, for each
// order that was not, what Tradewind said about it: the 404's message and what
// became of each of its webhooks. An order whose webhooks were all dealt with
// (applied, ignored, rejected) but that does not exist never will: that is
// reported at once.
func Await(ctx context.Context, r Report, o Options) ([]AppliedOrder, error) {
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--wait: the webhook URL %q names no Tradewind to ask", r.URL)
	}
	api := &apiClient{base: u.Scheme + "://" + u.Host + "/api/v1", token: o.APIToken,
		http: &http.Client{Timeout: 5 * time.Second}}
	timeout := waitTimeout(o)

	var waits []*orderWait
	byRef := map[string]*orderWait{}
	for _, ref := range r.Refs {
		if byRef[ref] == nil { // --order-ref with --count names one order many times
			byRef[ref] = &orderWait{ref: ref, webhooks: map[int64]*webhookState{}}
			waits = append(waits, byRef[ref])
		}
	}
	for i, ans := range r.Answers {
		w := byRef[r.Sent[i].Options.OrderRef]
		if w == nil {
			continue
		}
		for _, id := range ans.inboxIDs() {
			if w.webhooks[id] == nil {
				w.webhooks[id] = &webhookState{ID: id}
				w.ids = append(w.ids, id)
			}
		}
	}

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(awaitPoll)
	defer tick.Stop()
	for {
		pending := 0
		for _, w := range waits {
			if w.found != nil || w.hopeless != "" {
				continue
			}
			if err := w.poll(ctx, api); err != nil {
				return collect(waits), err
			}
			if w.found == nil && w.hopeless == "" {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return collect(waits), ctx.Err()
		case <-deadline.C:
			for _, w := range waits {
				if err := w.lastWord(ctx, api); err != nil {
					return collect(waits), err
				}
			}
			return collect(waits), notApplied(waits, fmt.Sprintf("not applied within %s", timeout))
		case <-tick.C:
		}
	}
	return collect(waits), notApplied(waits, "")
}

// orderWait is what Await knows of one order.
type orderWait struct {
	ref      string
	ids      []int64 // its webhooks' inbox ids, in the order they were answered
	webhooks map[int64]*webhookState
	found    json.RawMessage // GET /api/v1/orders/{ref} once it answers 200
	notFound string          // the last 404's message
	hopeless string          // why it never will be applied, when that is known
}

// webhookState is GET /api/v1/webhooks/{id}, the fields Await reports.
type webhookState struct {
	ID        int64  `json:"id"`
	EventType string `json:"event_type"`
	Status    string `json:"status"`
	LastError string `json:"last_error"`
}

func (s *webhookState) String() string {
	out := fmt.Sprintf("webhook %d", s.ID)
	if s.EventType != "" {
		out += " (" + s.EventType + ")"
	}
	if s.Status == "" {
		return out + " not looked up"
	}
	out += " " + s.Status
	switch {
	case s.LastError != "":
		out += ": " + s.LastError
	case s.Status == domain.InboxReceived:
		out += ", waiting for the worker (is `tradewind all` or `tradewind work` running?)"
	case s.Status == domain.InboxIgnored:
		out += ": an event type Tradewind does not apply"
	}
	return out
}

// settled reports whether the worker is done with it, for good.
func (s *webhookState) settled() bool {
	return s.Status == domain.InboxApplied || s.Status == domain.InboxIgnored || s.Status == domain.InboxRejected
}

// poll asks about the order's webhooks still waiting, then, once none is, about
// the order.
func (w *orderWait) poll(ctx context.Context, api *apiClient) error {
	waiting := false
	for _, id := range w.ids {
		s := w.webhooks[id]
		if s.Status != "" && s.Status != domain.InboxReceived && s.Status != domain.InboxFailed {
			continue
		}
		code, body, err := api.get(ctx, "/webhooks/"+strconv.FormatInt(id, 10))
		if err != nil {
			return err
		}
		if code == http.StatusOK {
			if err := json.Unmarshal(body, s); err != nil {
				return fmt.Errorf("--wait: GET /api/v1/webhooks/%d: %w", id, err)
			}
		}
		// A failed webhook is retried by the worker: it may yet be applied.
		waiting = waiting || s.Status == "" || s.Status == domain.InboxReceived || s.Status == domain.InboxFailed
	}
	if waiting {
		return nil
	}
	code, body, err := api.get(ctx, "/orders/"+url.PathEscape(w.ref))
	switch {
	case err != nil:
		return err
	case code == http.StatusOK:
		w.found = json.RawMessage(body)
		return nil
	case code == http.StatusNotFound:
		w.notFound = apiMessage(body)
	default:
		return fmt.Errorf("--wait: GET /api/v1/orders/%s answered %d: %s", w.ref, code, apiMessage(body))
	}
	if len(w.ids) > 0 && !slices.ContainsFunc(w.ids, func(id int64) bool { return !w.webhooks[id].settled() }) {
		w.hopeless = "will not be applied: Tradewind has dealt with every webhook this run sent for it"
	}
	return nil
}

// lastWord asks, when time is up, about an order not yet asked about (its webhooks
// were still waiting), so that the error says what Tradewind says of it.
func (w *orderWait) lastWord(ctx context.Context, api *apiClient) error {
	if w.found != nil || w.hopeless != "" || w.notFound != "" {
		return nil
	}
	code, body, err := api.get(ctx, "/orders/"+url.PathEscape(w.ref))
	switch {
	case err != nil:
		return err
	case code == http.StatusNotFound:
		w.notFound = apiMessage(body)
	case code == http.StatusOK:
		w.notFound = "" // it exists, but not every webhook is dealt with: the webhooks say which
	}
	return nil
}

// notApplied is the error for the orders not found, or nil.
func notApplied(waits []*orderWait, why string) error {
	var msgs []string
	for _, w := range waits {
		if w.found != nil {
			continue
		}
		reason := w.hopeless
		if reason == "" {
			reason = why
		}
		msg := fmt.Sprintf("order %s %s", w.ref, reason)
		if w.notFound != "" {
			msg += "; GET /api/v1/orders/" + w.ref + " answered 404: " + w.notFound
		}
		if len(w.ids) > 0 {
			states := make([]string, len(w.ids))
			for i, id := range w.ids {
				states[i] = w.webhooks[id].String()
			}
			msg += "; the webhooks this run sent for it: " + strings.Join(states, "; ")
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "\n"))
}

func collect(waits []*orderWait) []AppliedOrder {
	var out []AppliedOrder
	for _, w := range waits {
		if w.found != nil {
			out = append(out, AppliedOrder{Ref: w.ref, JSON: w.found})
		}
	}
	return out
}

// inboxIDs are the inbox rows a 2xx answer names ({"status", "inbox_ids"}); none
// for providers answered with their own acknowledgement (Adyen's "[accepted]").
func (a Answer) inboxIDs() []int64 {
	var b struct {
		InboxIDs []int64 `json:"inbox_ids"`
	}
	if !strings.HasPrefix(a.Status, "2") || json.Unmarshal([]byte(a.Body), &b) != nil {
		return nil
	}
	return b.InboxIDs
}

// apiClient calls a Tradewind's /api/v1 with its bearer token.
type apiClient struct {
	base, token string
	http        *http.Client
}

// get returns the status and body of GET base+path; 401 and 403 are errors, which
// waiting longer will not mend.
func (c *apiClient) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("--wait: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("--wait: GET %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return 0, nil, fmt.Errorf("--wait: GET %s answered %d (%s): set TRADEWIND_API_TOKEN to the API token of the Tradewind at %s",
			req.URL.Path, resp.StatusCode, apiMessage(body), strings.TrimSuffix(c.base, "/api/v1"))
	}
	return resp.StatusCode, body, nil
}

// apiMessage is the message of an {"error": {"code", "message"}} answer, or the
// answer itself.
func apiMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return strings.TrimSpace(string(body))
}
