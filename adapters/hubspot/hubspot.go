// Package hubspot sends deliveries to HubSpot's CRM (destinations of kind
// hubspot): customers as contacts upserted by email, orders as deals upserted by
// a custom unique property order_ref, both through the CRM v3 batch upsert
// endpoints, so a retry or a replay updates the record instead of duplicating it.
//
// The portal needs a deal property named order_ref marked unique ("has unique
// value") for deals to be upserted by it; the private app needs the scopes
// crm.objects.contacts.write and crm.objects.deals.write.
package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhookdest"
	"github.com/tradewind/tradewind/domain"
)

// Settings of a hubspot destination.
const (
	SettingToken      = "token"        // the private app's access token ("env:HUBSPOT_TOKEN")
	SettingAPIBaseURL = "api_base_url" // default DefaultAPIBaseURL
	SettingPipeline   = "pipeline"     // the deals' pipeline (default "default")
	// The deal stages of an open, a paid and a cancelled or refunded order (the
	// default pipeline's stage ids by default).
	SettingStageOpen = "deal_stage_open"
	SettingStageWon  = "deal_stage_won"
	SettingStageLost = "deal_stage_lost"
)

// Keys are the settings a hubspot destination may have.
var Keys = []string{SettingToken, SettingAPIBaseURL, SettingPipeline, SettingStageOpen, SettingStageWon, SettingStageLost}

func setting(d domain.Destination, key, def string) string {
	if v := d.Settings[key]; v != "" {
		return v
	}
	return def
}

// dealStage is the stage of an order's deal: won once paid, lost once cancelled
// or refunded in full, open before.
func dealStage(d domain.Destination, doc domain.OrderDocument) string {
	switch {
	case doc.Status == domain.StatusCancelled || doc.PaymentStatus == domain.PayRefunded:
		return setting(d, SettingStageLost, "closedlost")
	case doc.PaymentStatus == domain.PayPaid || doc.PaymentStatus == domain.PayOverpaid || doc.Status == domain.StatusConfirmed ||
		doc.Status == domain.StatusFulfilled:
		return setting(d, SettingStageWon, "closedwon")
	}
	return setting(d, SettingStageOpen, "appointmentscheduled")
}

// DefaultAPIBaseURL is HubSpot's API.
const DefaultAPIBaseURL = "https://api.hubapi.com"

// DefaultRateLimit is requests per second: HubSpot's private apps get 100
// requests per 10 seconds on the lowest tiers (the per-10-seconds budget).
const DefaultRateLimit = 10

// Paths of the batch upsert endpoints.
const (
	ContactsUpsertPath = "/crm/v3/objects/contacts/batch/upsert"
	DealsUpsertPath    = "/crm/v3/objects/deals/batch/upsert"
)

// OrderRefProperty is the custom unique deal property orders are keyed by.
const OrderRefProperty = "order_ref"

// Input is one record of a batch upsert request.
type Input struct {
	ID         string            `json:"id"`
	IDProperty string            `json:"idProperty"`
	Properties map[string]string `json:"properties"`
}

// BatchRequest is the body of a batch upsert.
type BatchRequest struct {
	Inputs []Input `json:"inputs"`
}

// BatchResponse is HubSpot's answer to a batch upsert (200, or 207 with errors).
type BatchResponse struct {
	Status  string `json:"status"`
	Results []struct {
		ID         string            `json:"id"`
		New        bool              `json:"new"`
		Properties map[string]string `json:"properties"`
	} `json:"results"`
	NumErrors int `json:"numErrors"`
	Errors    []struct {
		Category string `json:"category"`
		Message  string `json:"message"`
	} `json:"errors"`
}

// Sender is the domain.Sender of kind hubspot.
type Sender struct {
	Render *webhookdest.Renderer
	Client *http.Client // nil: http.DefaultClient
}

var _ domain.Sender = (*Sender)(nil)

// Wants reports whether HubSpot has a record for events of type t: orders and
// customers, not stock.
func Wants(t domain.DownstreamType) bool { return t != domain.DownStockChanged }

// Send implements domain.Sender: one batch upsert of the delivery's record.
func (s *Sender) Send(ctx context.Context, d domain.Destination, o domain.Outbound, now time.Time) domain.SendResult {
	path, in, err := s.input(ctx, d, o)
	if err != nil {
		return domain.SendResult{Err: err, Local: true}
	}
	if path == "" {
		return domain.SendResult{StatusCode: http.StatusNoContent} // nothing HubSpot keeps
	}
	body, _ := json.Marshal(BatchRequest{Inputs: []Input{in}})
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = domain.DefaultDestinationTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := strings.TrimRight(d.Settings[SettingAPIBaseURL], "/")
	if base == "" {
		base = DefaultAPIBaseURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return domain.SendResult{Err: fmt.Errorf("api_base_url: %w", err), Local: true}
	}
	req.Header.Set("Authorization", "Bearer "+d.Settings[SettingToken])
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		res := domain.SendResult{Latency: time.Since(start)}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.Err = fmt.Errorf("HubSpot did not answer within the timeout of %s", timeout)
		} else {
			res.Err = fmt.Errorf("HubSpot request failed: %v", err)
		}
		return res
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res := webhookdest.Result(resp.StatusCode, resp.Header.Get("Retry-After"), raw, time.Since(start), now)
	if resp.StatusCode == http.StatusTooManyRequests && res.RetryAfter == 0 {
		// HubSpot names its rolling window; wait one window when it gives no Retry-After.
		if ms, err := strconv.Atoi(resp.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
			res.RetryAfter = time.Duration(ms) * time.Millisecond
		} else {
			res.RetryAfter = 10 * time.Second
		}
	}
	if res.Err != nil {
		return res
	}
	var br BatchResponse
	if err := json.Unmarshal(raw, &br); err != nil {
		res.Err = fmt.Errorf("HubSpot answered %d with a body that is not a batch response", resp.StatusCode)
		return res
	}
	if br.NumErrors > 0 || len(br.Errors) > 0 || resp.StatusCode == http.StatusMultiStatus {
		msg := "unknown error"
		if len(br.Errors) > 0 {
			msg = br.Errors[0].Category + ": " + br.Errors[0].Message
		}
		res.Err = fmt.Errorf("HubSpot refused the record: %.200s", msg)
	}
	return res
}

// input is the record a delivery upserts, and the endpoint; "" when HubSpot
// keeps nothing of it.
func (s *Sender) input(ctx context.Context, d domain.Destination, o domain.Outbound) (string, Input, error) {
	switch {
	case o.Type == domain.DownCustomerUpserted:
		var c domain.CustomerData
		if err := json.Unmarshal(o.Data, &c); err != nil {
			return "", Input{}, fmt.Errorf("customer data: %w", err)
		}
		if c.Email == "" {
			return "", Input{}, nil // HubSpot keys contacts by email: nothing to key this one by
		}
		first, last, _ := strings.Cut(c.Name, " ")
		props := map[string]string{"email": c.Email, "firstname": first, "lastname": last}
		return ContactsUpsertPath, Input{ID: c.Email, IDProperty: "email", Properties: props}, nil
	case o.OrderRef != "" && Wants(o.Type):
		raw, err := s.Render.Body(ctx, o, time.Now())
		if err != nil {
			return "", Input{}, err
		}
		var msg struct {
			Data domain.OrderDocument `json:"data"`
		}
		if err := json.Unmarshal(raw, &msg); err != nil {
			return "", Input{}, err
		}
		doc := msg.Data
		props := map[string]string{
			OrderRefProperty: doc.Ref,
			"dealname":       "Order " + doc.Ref,
			"pipeline":       setting(d, SettingPipeline, "default"),
			"dealstage":      dealStage(d, doc),
		}
		if doc.Currency != "" {
			props["amount"] = domain.FormatMinorUnits(doc.Total, doc.Currency)
			props["deal_currency_code"] = doc.Currency
		}
		return DealsUpsertPath, Input{ID: doc.Ref, IDProperty: OrderRefProperty, Properties: props}, nil
	}
	return "", Input{}, nil
}
