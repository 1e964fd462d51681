package stripe_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/stripe"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
	"github.com/tradewind/tradewind/domain"
)

const testdata = "../../testdata/stripe"

var src = domain.Source{ID: "acme-stripe", Provider: stripe.Kind, Secrets: []string{"whsec_test_secret"}}

func read(t testing.TB, name string) []byte {
	return webhooktest.ReadFile(t, filepath.Join(testdata, name))
}

func TestKnownAnswerVector(t *testing.T) {
	var kat struct {
		Secret    string `json:"secret"`
		T         int64  `json:"t"`
		BodyFile  string `json:"body_file"`
		Signature string `json:"Stripe-Signature"`
	}
	if err := json.Unmarshal(read(t, "derived_kat_stripe.json"), &kat); err != nil {
		t.Fatal(err)
	}
	body := read(t, kat.BodyFile)
	s := domain.Source{ID: "kat", Secrets: []string{kat.Secret}}
	at := time.Unix(kat.T, 0)
	d := domain.Delivery{Header: map[string][]string{"Stripe-Signature": {kat.Signature}}, Body: body, ReceivedAt: at}
	if err := (stripe.Provider{}).Verify(context.Background(), s, d); err != nil {
		t.Fatalf("Verify(vector) = %v", err)
	}
	for i := range body {
		bad := d
		bad.Body = append([]byte(nil), body...)
		bad.Body[i] ^= 0x20
		if err := (stripe.Provider{}).Verify(context.Background(), s, bad); err == nil {
			t.Fatalf("Verify accepted the vector with byte %d changed", i)
		}
	}
	late := d
	late.ReceivedAt = at.Add(301 * time.Second)
	if err := (stripe.Provider{}).Verify(context.Background(), s, late); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("Verify 301 s after signing = %v, want %s", err, domain.EUNAUTHORIZED)
	}
}

func TestContract(t *testing.T) {
	webhooktest.Contract(t, stripe.Provider{}, webhooktest.Options{Source: src, OtherSecret: "whsec_other", Timestamped: true})
}

func FuzzVerifyParse(f *testing.F) {
	webhooktest.Fuzz(f, stripe.Provider{}, webhooktest.Options{Source: src})
}

// envelope wraps a real Stripe object fixture in an event of type typ.
func envelope(t *testing.T, typ, fixture string, edit func(map[string]any)) []byte {
	var obj map[string]any
	if err := json.Unmarshal(read(t, fixture), &obj); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(obj)
	}
	b, err := json.Marshal(map[string]any{"id": "evt_golden_" + strings.ReplaceAll(typ, ".", "_"), "object": "event", "type": typ, "created": 1721948530, "data": map[string]any{"object": obj}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGolden(t *testing.T) {
	withOrder := func(o map[string]any) { o["metadata"] = map[string]any{"order_ref": "1001"} }
	tests := []struct {
		name string
		body []byte
	}{
		{"event_plan_created_ignored", read(t, "openapi_fixture_event.json")},
		{"payment_intent_succeeded", envelope(t, "payment_intent.succeeded", "openapi_fixture_payment_intent.json", func(o map[string]any) {
			withOrder(o)
			o["amount_received"], o["status"] = o["amount"], "succeeded"
		})},
		{"payment_intent_payment_failed", envelope(t, "payment_intent.payment_failed", "openapi_fixture_payment_intent.json", withOrder)},
		{"charge_succeeded_uncaptured", envelope(t, "charge.succeeded", "openapi_fixture_charge.json", nil)},
		{"charge_refunded", envelope(t, "charge.refunded", "openapi_fixture_charge.json", func(o map[string]any) {
			o["captured"], o["amount_captured"], o["amount_refunded"], o["payment_intent"] = true, 100, 40, "pi_1PgafyB7WZ01zgkWSjxsAJo3"
		})},
		// The same payment intent in Icelandic krónur and Malagasy ariary: Stripe writes ISK
		// with two decimals (always 00) and MGA with none; the goldens hold ISO 4217 minor
		// units, written by hand: 2,790 kr. is 2790 (ISO 0 decimals), Ar 5,000 is 500000 (ISO 2).
		{"payment_intent_succeeded_isk", envelope(t, "payment_intent.succeeded", "openapi_fixture_payment_intent.json", func(o map[string]any) {
			withOrder(o)
			o["currency"], o["amount"], o["amount_received"], o["status"] = "isk", 279000, 279000, "succeeded"
		})},
		{"payment_intent_succeeded_mga", envelope(t, "payment_intent.succeeded", "openapi_fixture_payment_intent.json", func(o map[string]any) {
			withOrder(o)
			o["currency"], o["amount"], o["amount_received"], o["status"] = "mga", 5000, 5000, "succeeded"
		})},
		// Stripe's dispute fixture through its lifecycle: opened (warning_needs_response as
		// published), funds withdrawn, closed lost, and another closed won with funds reinstated.
		{"charge_dispute_created", envelope(t, "charge.dispute.created", "openapi_fixture_dispute.json", nil)},
		{"charge_dispute_funds_withdrawn", envelope(t, "charge.dispute.funds_withdrawn", "openapi_fixture_dispute.json", func(o map[string]any) {
			o["status"] = "needs_response"
		})},
		{"charge_dispute_closed_lost", envelope(t, "charge.dispute.closed", "openapi_fixture_dispute.json", func(o map[string]any) {
			o["status"] = "lost"
		})},
		{"charge_dispute_funds_reinstated", envelope(t, "charge.dispute.funds_reinstated", "openapi_fixture_dispute.json", func(o map[string]any) {
			o["status"] = "won"
		})},
		// Closed is final whatever the status: the deprecated charge_refunded (the money left
		// as the refund), prevented, and a status Stripe may add are closed won, not open.
		{"charge_dispute_closed_charge_refunded", envelope(t, "charge.dispute.closed", "openapi_fixture_dispute.json", func(o map[string]any) {
			o["status"] = "charge_refunded"
		})},
		{"charge_dispute_closed_prevented", envelope(t, "charge.dispute.closed", "openapi_fixture_dispute.json", func(o map[string]any) {
			o["status"] = "prevented"
		})},
		{"charge_dispute_closed_unknown_status", envelope(t, "charge.dispute.closed", "openapi_fixture_dispute.json", func(o map[string]any) {
			o["status"] = "some_status_stripe_adds"
		})},
		// Stripe's refund fixture: as published (succeeded), failed, and canceled.
		{"refund_updated_succeeded", envelope(t, "refund.updated", "openapi_fixture_refund.json", nil)},
		{"refund_failed", envelope(t, "refund.failed", "openapi_fixture_refund.json", func(o map[string]any) {
			o["status"], o["failure_reason"] = "failed", "expired_or_canceled_card"
		})},
		{"refund_updated_canceled", envelope(t, "refund.updated", "openapi_fixture_refund.json", func(o map[string]any) {
			o["status"] = "canceled"
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := domain.Delivery{Body: tt.body}
			got := webhooktest.NormalizeAll(t, stripe.Provider{}, src, d)
			webhooktest.Golden(t, filepath.Join(testdata, tt.name+".golden.json"), got)
		})
	}
}

// TestDisputeStatuses: every dispute status Stripe lists (docs.stripe.com/api/disputes/object,
// plus the deprecated charge_refunded) on every dispute event: a final status is final on
// any event, and charge.dispute.closed is final whatever its status.
func TestDisputeStatuses(t *testing.T) {
	type placed struct {
		Type    domain.EventType
		Stage   int
		Outcome string
	}
	open := func(stage int) placed { return placed{domain.DisputeOpened, stage, domain.DisputeOpen} }
	won := placed{domain.DisputeClosed, 3, domain.DisputeWon}
	lost := placed{domain.DisputeClosed, 3, domain.DisputeLost}
	tests := []struct {
		name, status string
		// by event: created, funds_withdrawn, closed
		created, withdrawn, closed placed
	}{
		{"warning_needs_response", "warning_needs_response", open(1), open(2), won},
		{"warning_under_review", "warning_under_review", open(1), open(2), won},
		{"needs_response", "needs_response", open(1), open(2), won},
		{"under_review", "under_review", open(1), open(2), won},
		{"won", "won", won, won, won},
		{"warning_closed", "warning_closed", won, won, won},
		{"prevented", "prevented", won, won, won},
		{"charge_refunded", "charge_refunded", won, won, won},
		{"lost", "lost", lost, lost, lost},
		{"unknown", "some_status_stripe_adds", open(1), open(2), won},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for typ, want := range map[string]placed{"charge.dispute.created": tt.created, "charge.dispute.updated": tt.created,
				"charge.dispute.funds_withdrawn": tt.withdrawn, "charge.dispute.closed": tt.closed} {
				body := envelope(t, typ, "openapi_fixture_dispute.json", func(o map[string]any) { o["status"] = tt.status })
				got := webhooktest.NormalizeAll(t, stripe.Provider{}, src, domain.Delivery{Body: body})
				if len(got) != 1 || got[0].Dispute == nil {
					t.Fatalf("%s: events = %+v, want one dispute", typ, got)
				}
				g := placed{got[0].Type, got[0].Dispute.Stage, got[0].Dispute.Outcome}
				if diff := cmp.Diff(want, g); diff != "" {
					t.Errorf("%s with status %s (-want +got):\n%s", typ, tt.status, diff)
				}
			}
		})
	}
}
